"""Envision, SMARTS's web viewer, as evaluations use it: a server that must answer before an
evaluation streams to it, and the replays an evaluation records."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

DEFAULT_ENDPOINT = "ws://localhost:8081"
SIM_NAME = "smarts_rl_eval"


def check_envision_server(endpoint: str) -> None:
    """Fail now, in one line, if no Envision server answers (SMARTS would only log a warning)."""
    from smarts_rl.errors import UsageError

    parsed = urlparse(endpoint)
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        raise UsageError(f"Envision endpoint {endpoint}: expected ws://host:port")
    url = f"{'https' if parsed.scheme == 'wss' else 'http'}://{parsed.netloc}/simulations"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            json.load(response)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(
            f"no Envision server answers at {endpoint} ({reason}); start one with "
            f"`python -m smarts_rl.envision_server --port {parsed.port or 80}` "
            f"or `scl envision start -p {parsed.port or 80}`"
        ) from None


def wait_for_envision_client() -> None:
    """Envision's client sends and records states from child processes, which its teardown
    waits for only three seconds: let them finish the backlog of a long run."""
    for child in multiprocessing.active_children():
        child.join(timeout=120)


def collect_replay(record_dir: Path, target: Path) -> Optional[str]:
    """Move Envision's recording (`<dir>/<unix time>/<sim>.jsonl`) to `target`."""
    recordings = sorted(record_dir.rglob("*.jsonl"))
    if not recordings:
        return None
    os.replace(recordings[-1], target)
    shutil.rmtree(record_dir, ignore_errors=True)
    return str(target)
