"""`scheduler=asha`: Tune's ASHA over a log-uniform learning rate, stopping the worse trials early."""

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from smarts_rl.schedulers.contract import Scheduler


@dataclass
class Settings(Scheduler):
    name: str = "asha"
    trials: int = 4
    """Trials, each with its own learning rate drawn from [lr_min, lr_max]."""
    at_once: int = 2
    """Trials that run at the same time."""
    lr_min: float = 1e-4
    """Smallest learning rate drawn."""
    lr_max: float = 1e-2
    """Largest learning rate drawn."""
    grace_period: int = 1
    """Iterations every trial gets before it may be stopped."""
    reduction_factor: int = 2
    """Only the best 1/reduction_factor of the trials go on at each rung."""
    max_t: int = 3
    """Iterations of the trials that are never stopped."""

    stops_trials_early: ClassVar[bool] = True

    def __post_init__(self):
        if self.trials < 1 or self.at_once < 1:
            raise ValueError(f"scheduler.trials and scheduler.at_once must be >= 1, got {self.trials}, {self.at_once}")
        if not 0 < self.lr_min < self.lr_max:
            raise ValueError(f"scheduler.lr_min must be in (0, lr_max), got {self.lr_min}")

    def num_trials(self) -> int:
        return self.trials

    def concurrent_trials(self) -> int:
        return min(self.at_once, self.trials)

    def num_samples(self) -> int:
        return self.trials

    def searched_keys(self) -> dict:
        return {"lr": "scheduler.lr_min"}

    def param_space(self, seed: int) -> dict:
        from ray import tune

        return {"lr": tune.loguniform(self.lr_min, self.lr_max)}

    def tune_scheduler(self, metric: str, mode: str, run_dir: Path):
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(time_attr="training_iteration", max_t=self.max_t, grace_period=self.grace_period,
                             reduction_factor=self.reduction_factor)
