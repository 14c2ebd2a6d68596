"""A run's config as it is now: what it started with, plus what each resume changed.

`.hydra/config.yaml` stays as Hydra wrote it when the run started. A resume that changes a
setting (`train.py resume=<run> stop.training_iteration=60`, see smarts_rl/run/resume.py) appends
one line to the run's `resumes.jsonl`:

    {"time": "2026-12-07T19:10:04+00:00", "changes": {"stop.training_iteration": {"old": 30, "new": 60}}}

`run_config` is the started config with every recorded change applied in order: what the
resumed run, its stopper and callbacks, `evaluate` and a warm start read. A run directory
without the file (never resumed with a change, or made before resumes were recorded, whose
`.hydra/config.yaml` earlier resumes rewrote in place) has no changes.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from smarts_rl.errors import UsageError
from smarts_rl.run_dir.atomic_file import write_atomically
from smarts_rl.run_dir.layout import RESUMES_FILE, RUN_CONFIG


def resumes(run_dir: Path) -> list[dict]:
    """Each recorded resume, oldest first: {"time": ..., "changes": {key: {"old": ..., "new": ...}}}."""
    path = Path(run_dir) / RESUMES_FILE
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        record = _parsed(line)
        if record is None:
            # Only ever written whole (below): a bad line was edited in, and guessing would
            # run with settings nobody chose.
            raise UsageError(f"{path}, line {number}: not a record of a resume ({line[:80]!r})")
        records.append(record)
    return records


def _parsed(line: str) -> dict | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    changes = record.get("changes") if isinstance(record, dict) else None
    if not isinstance(changes, dict) or not all(isinstance(c, dict) and "new" in c for c in changes.values()):
        return None
    return record


def record_resume(run_dir: Path, changes: dict) -> dict:
    """Append one resume's `changes` ({key: {"old": ..., "new": ...}}), stamped with the time."""
    record = {"time": datetime.now().astimezone().isoformat(timespec="seconds"), "changes": changes}
    path = Path(run_dir) / RESUMES_FILE
    earlier = path.read_text() if path.is_file() else ""
    # The whole file again, then renamed over the old one: a kill mid-write leaves the old one,
    # every earlier record intact (an append cut short would leave half a line).
    write_atomically(path, earlier + json.dumps(record) + "\n")
    return record


def run_config(run_dir: Path) -> DictConfig:
    """The run's config now: `.hydra/config.yaml` with each recorded resume's new values."""
    cfg = OmegaConf.load(Path(run_dir) / RUN_CONFIG)
    for record in resumes(run_dir):
        for key, change in record["changes"].items():
            OmegaConf.update(cfg, key, change["new"], merge=False)
    return cfg
