"""When a trial stops: the run's own `stop` settings, re-read from its run directory.

Tune pickles the stopper with the experiment. Reading the limits from the run directory (its
config and what resumes changed, smarts_rl/run_dir/run_config.py) instead of keeping them in the
pickle lets `train.py resume=<run> stop.training_iteration=...` extend a run that already finished.
"""

from __future__ import annotations

from pathlib import Path

from ray.tune import Stopper

from smarts_rl.run_dir.layout import run_dir_of
from smarts_rl.run_dir.run_config import run_config
from smarts_rl.run_dir.trial_results import env_steps

LIMITS = {
    "training_iteration": lambda result: result.get("training_iteration", 0),
    "timesteps_total": env_steps,
    "time_total_s": lambda result: result.get("time_total_s", 0.0),
}


def stop_limits(run_dir: Path) -> dict:
    stop = run_config(run_dir).get("stop", {})
    return {key: stop[key] for key in LIMITS if stop.get(key) is not None}


def reached(limits: dict, result: dict) -> bool:
    return any(LIMITS[key](result) >= limit for key, limit in limits.items())


class RunStopper(Stopper):
    """`config_file`: the run's `.hydra/config.yaml`; the limits are read from its run directory.

    Pickles of earlier sessions hold `_config_file` (and `_limits`) only: keep those names."""

    def __init__(self, config_file: Path):
        self._config_file = str(config_file)
        self._limits = None

    def __getstate__(self):
        return {"_config_file": self._config_file, "_limits": None}

    def __call__(self, trial_id, result) -> bool:
        if self._limits is None:
            self._limits = stop_limits(run_dir_of(self._config_file))
        return reached(self._limits, result)

    def stop_all(self) -> bool:
        return False
