"""`scheduler=none`: one trial, run to its stop condition (Tune's FIFO scheduler)."""

from dataclasses import dataclass


@dataclass
class Settings:
    name: str = "none"
    """Scheduler name (this file's name)."""


def num_trials(settings: Settings) -> int:
    return 1


def checkpoint_frequency(settings: Settings, configured: int) -> int:
    return configured


def tune_scheduler(settings: Settings, metric: str, run_dir):
    """Tune's default FIFO scheduler."""
    return None


def param_space_overrides(settings: Settings, seed: int) -> dict:
    return {}
