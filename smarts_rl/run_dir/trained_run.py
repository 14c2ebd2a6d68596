"""A run directory of `train.py` as `evaluate` and `export` read it: its config and its checkpoints.

Nothing here starts Ray or Tune: the config is the run's own (`.hydra/config.yaml` with its
resumes' changes, smarts_rl/run_dir/run_config.py), and checkpoints are found on disk
(`summary.json` names the best one).

A checkpoint is a pickle: loading one runs code. So `best` and `latest` only ever pick a
checkpoint inside the named run's `tune/` folder (a symlink out of it is ignored, and a
`summary.json` naming a checkpoint elsewhere is refused); anything else must be named
explicitly with `checkpoint=<path>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from smarts_rl.errors import UsageError
from smarts_rl.run_dir.layout import (
    RUN_CONFIG, SUMMARY_FILE, checkpoint_markers, experiment_dir, holds_config, user_directory,
)
from smarts_rl.run_dir.run_config import run_config  # noqa: F401  (evaluate and report read it from here)
from smarts_rl.upstream.rllib import MODULES_IN_CHECKPOINT, is_algorithm_checkpoint
from smarts_rl.upstream.tune_files import TRIAL_CHECKPOINTS

CHECKPOINT_CHOICES = ("best", "latest")


@dataclass(frozen=True)
class Keys:
    """The keys a command names a run and its checkpoint with, for its messages."""

    run: str = "run"
    choice: str = "checkpoint"  # best / latest
    path: str = "checkpoint"  # a checkpoint directory


EVALUATE_KEYS = Keys()


def open_run(path: str, cwd: Path) -> Path:
    """The run directory `path` names, checked to be one that train.py wrote."""
    if not path:
        raise UsageError("run=<run directory> is required (a directory train.py wrote, e.g. outputs/2026-11-23/10-00-00)")
    run_dir = user_directory(path, cwd, "run")
    if not holds_config(run_dir):
        raise UsageError(f"run={path}: not a run directory of train.py (no {RUN_CONFIG} in {run_dir})")
    return run_dir


def all_checkpoints(run_dir: Path) -> list[Path]:
    """Every complete RLlib checkpoint of the run, oldest first."""
    found = [
        marker.parent
        for marker in checkpoint_markers(run_dir)
        if is_algorithm_checkpoint(marker.parent) and _inside_run(marker.parent, run_dir)
    ]
    return sorted(found, key=lambda p: (p.stat().st_mtime, str(p)))


def find_checkpoint(run_dir: Path, choice: str, cwd: Path, keys: Keys = EVALUATE_KEYS) -> Path:
    """`best` (the best trial's checkpoint in summary.json), `latest` (the newest on disk) or a path."""
    if choice not in CHECKPOINT_CHOICES:
        return checked_checkpoint(choice, cwd, keys)
    checkpoints = all_checkpoints(run_dir)
    if not checkpoints:
        raise UsageError(
            f"{keys.run}={run_dir}: the run has no checkpoint (nothing in {experiment_dir(run_dir)}/*/{TRIAL_CHECKPOINTS}): "
            f"did training finish an iteration? Pass {keys.path}=<path> to use one from elsewhere"
        )
    if choice == "latest":
        return checkpoints[-1]
    best = _best_from_summary(run_dir)
    if best is None:
        raise UsageError(
            f"{keys.run}={run_dir}: {SUMMARY_FILE} names no best checkpoint (the run was interrupted before "
            f"it wrote one); use {keys.choice}=latest or {keys.path}=<path>"
        )
    if not _inside_run(best, run_dir):
        # A run directory that was moved or copied names its old place: take the same
        # trial's checkpoint here, never the one at the old place.
        moved = experiment_dir(run_dir) / best.parent.name / best.name
        if not (moved.is_dir() and _inside_run(moved, run_dir)):
            raise UsageError(
                f"{keys.run}={run_dir}: {SUMMARY_FILE} names a best checkpoint outside the run ({best}); "
                f"a checkpoint is a pickle, so it is loaded only when named: pass {keys.path}=<path> if you trust it"
            )
        best = moved
    if not is_algorithm_checkpoint(best):
        raise UsageError(f"{keys.run}={run_dir}: the best checkpoint {best} is gone; use {keys.choice}=latest")
    return best


def _inside_run(path: Path, run_dir: Path) -> bool:
    """Whether `path`, with symlinks resolved, lies in the run's Tune experiment folder."""
    return Path(path).resolve().is_relative_to(experiment_dir(Path(run_dir).resolve()).resolve())


def checked_checkpoint(path: str, cwd: Path, keys: Keys = EVALUATE_KEYS) -> Path:
    checkpoint = user_directory(path, cwd, keys.path, hint="use best, latest or a checkpoint directory")
    if not is_algorithm_checkpoint(checkpoint):
        raise UsageError(
            f"{keys.path}={path}: not an RLlib algorithm checkpoint of train.py "
            f"(no {MODULES_IN_CHECKPOINT} in {checkpoint})"
        )
    return checkpoint


def _best_from_summary(run_dir: Path) -> Path | None:
    try:
        summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None
    best = (summary.get("best") or {}).get("checkpoint")
    return Path(best) if best else None
