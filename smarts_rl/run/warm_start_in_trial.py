"""`init_from`'s part inside each trial: loading the checkpoint's modules into a freshly built
Algorithm (smarts_rl/run/warm_start.py plans it before Ray starts)."""

from __future__ import annotations

from pathlib import Path

from smarts_rl.upstream.rllib import restore_modules


def load_modules_into(algorithm, checkpoint: str, sources: dict, **kwargs) -> None:
    """Each learner module's state from the checkpoint's module `sources[module id]` (the optimizer
    stays fresh), then the same weights into every env runner's module."""
    restore_modules(algorithm, Path(checkpoint), sources)
