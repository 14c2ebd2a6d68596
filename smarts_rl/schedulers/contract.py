"""What a `scheduler` option provides: the contract the core depends on, written once.

An option is a yaml file in a `conf/scheduler/` folder (ours, or one on `hydra.searchpath`) that
names its implementation with `_target_`, a dataclass subclassing `Scheduler`. It says how many
trials the run has and how many run at once (the core splits the CPUs by that), whether trials
may stop before the run's `stop` limits (then such a trial is "stopped early", not interrupted),
what must be checkpointed, and hands Tune its scheduler, search algorithm and per-trial
parameters. Nothing here imports Ray.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar


@dataclass
class Scheduler:
    """Base of every `scheduler` option's schema."""

    name: str = ""
    """The option's label in summaries (its yaml's `name`)."""

    stops_trials_early: ClassVar[bool] = False
    """Whether the scheduler ends trials before the run's `stop` limits (ASHA, median stopping...)."""

    def num_trials(self) -> int:
        """Trials in the run."""
        return 1

    def concurrent_trials(self) -> int:
        """Trials that run at once: each gets this share of the run's CPUs."""
        return self.num_trials()

    def searched_keys(self) -> dict[str, str]:
        """The `algo` keys this scheduler sets per trial, each with the key that asks for it
        (`{"lr": "scheduler.grid.lr"}`): each must be a hyperparameter of the algorithm."""
        return {}

    def checkpoint_frequency(self, configured: int) -> int:
        """Iterations between checkpoints, given `checkpoint.frequency`."""
        return configured

    def param_space(self, seed: int) -> dict[str, Any]:
        """What each trial's config takes beyond the algorithm's: Tune domains or grid searches."""
        return {}

    def num_samples(self) -> int:
        """Tune's `num_samples`: how often the param space is sampled (a grid search's points
        multiply it)."""
        return 1

    def tune_scheduler(self, metric: str, mode: str, run_dir: Path):
        """Tune's trial scheduler (None: first in, first out)."""
        return None

    def search_algorithm(self, metric: str, mode: str):
        """Tune's search algorithm (None: Tune's random/grid variant generator)."""
        return None

    def before_resume(self, run_dir: Path, experiment_state: Path) -> None:
        """Make what the scheduler wrote to the run directory agree with Tune's saved experiment
        state, before a resume restores it (a kill may land between the two)."""
