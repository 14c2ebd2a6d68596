"""`scheduler=grid`: a grid search over `algo.*` hyperparameters, one trial per point, trained
side by side to their stop condition (Tune's FIFO scheduler, no early stopping)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List

from smarts_rl.schedulers.contract import Scheduler


@dataclass
class Settings(Scheduler):
    """`conf/scheduler/grid.yaml`."""

    name: str = "grid"

    grid: Dict[str, List[Any]] = field(default_factory=dict)
    """`algo` field -> the values to try; every combination is one trial."""

    def __post_init__(self):
        if not self.grid:
            raise ValueError("scheduler.grid must name at least one algo field")
        for key, values in self.grid.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ValueError(f"scheduler.grid.{key} must be a non-empty list, got {values!r}")

    def num_trials(self) -> int:
        return math.prod(len(values) for values in self.grid.values())

    def searched_keys(self) -> dict[str, str]:
        return {key: f"scheduler.grid.{key}" for key in self.grid}

    def param_space(self, seed: int) -> dict:
        """Every trial trains with the same seed: the grid point is the only difference."""
        from ray import tune

        return {key: tune.grid_search(list(values)) for key, values in self.grid.items()}
