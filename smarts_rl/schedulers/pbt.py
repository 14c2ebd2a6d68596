"""`scheduler=pbt`: Population Based Training over `algo.*` hyperparameters.

Tune's scheduler itself is in `recorded_pbt.py`; this module, the config group's schema, imports
Ray only when a run builds its trials."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict

from smarts_rl.run_dir.atomic_file import write_atomically
from smarts_rl.run_dir.layout import EXPLOITS_FILE
from smarts_rl.schedulers.contract import Scheduler
from smarts_rl.upstream.tune_files import last_saved_result_time


@dataclass
class Settings(Scheduler):
    """`conf/scheduler/pbt.yaml`."""

    name: str = "pbt"

    population_size: int = 4
    """Trials trained side by side."""
    perturbation_interval: int = 5
    """Training iterations between exploit/explore steps (checkpoints follow it)."""
    resample_probability: float = 0.25
    """Chance that explore resamples a value instead of perturbing the current one."""
    quantile_fraction: float = 0.25
    """Bottom fraction of trials that copy a top-fraction trial."""
    hyperparam_mutations: Dict[str, Any] = field(default_factory=dict)
    """`algo` field -> a list of values, or {min, max, log} for a range."""
    synch: bool = True
    """Exploit when every trial has reached the interval (true), or each trial on its own (false)."""

    def __post_init__(self):
        if self.population_size < 2:
            raise ValueError(f"scheduler.population_size must be >= 2, got {self.population_size}")
        if self.perturbation_interval < 1:
            raise ValueError(
                f"scheduler.perturbation_interval must be >= 1, got {self.perturbation_interval}"
            )
        if not 0.0 <= self.resample_probability <= 1.0:
            raise ValueError(
                f"scheduler.resample_probability must be in [0, 1], got {self.resample_probability}"
            )
        if not 0.0 < self.quantile_fraction <= 0.5:
            raise ValueError(
                f"scheduler.quantile_fraction must be in (0, 0.5], got {self.quantile_fraction}"
            )
        if not self.hyperparam_mutations:
            raise ValueError("scheduler.hyperparam_mutations must name at least one algo field")
        for key, spec in self.hyperparam_mutations.items():
            where = f"scheduler.hyperparam_mutations.{key}"
            if isinstance(spec, (list, tuple)):
                if not spec:
                    raise ValueError(f"{where} must list at least one value")
            elif isinstance(spec, dict):
                if set(spec) - {"min", "max", "log"} or not {"min", "max"} <= set(spec):
                    raise ValueError(f"{where} must be a list or {{min, max, log}}, got {spec}")
                if not spec["min"] < spec["max"]:
                    raise ValueError(f"{where}.min must be < max, got {spec}")
                if spec.get("log") and spec["min"] <= 0:
                    raise ValueError(f"{where}.min must be > 0 for a log range, got {spec}")
            else:
                raise ValueError(f"{where} must be a list or {{min, max, log}}, got {spec!r}")

    def num_trials(self) -> int:
        return self.population_size

    def searched_keys(self) -> dict[str, str]:
        return {key: f"scheduler.hyperparam_mutations.{key}" for key in self.hyperparam_mutations}

    def checkpoint_frequency(self, configured: int) -> int:
        """PBT exploits only trials with a checkpoint: checkpoint at every perturbation."""
        return self.perturbation_interval

    def param_space(self, seed: int) -> dict:
        """Trial i trains with seed + i (its own episodes and initial weights) and starts from its
        own sample of the mutated hyperparameters."""
        from ray import tune

        return {
            "seed": tune.grid_search([seed + i for i in range(self.population_size)]),
            **{key: _domain(spec) for key, spec in self.hyperparam_mutations.items()},
        }

    def before_resume(self, run_dir: Path, experiment_state: Path) -> None:
        drop_unsaved_exploits(run_dir, experiment_state)

    def tune_scheduler(self, metric: str, mode: str, run_dir: Path):
        """A `RecordedPBT`, Tune's PopulationBasedTraining recording its exploits."""
        from smarts_rl.persisted import RecordedPBT  # pickled into the experiment state by this name

        return RecordedPBT(
            exploits_file=Path(run_dir) / EXPLOITS_FILE,
            mutated_keys=list(self.hyperparam_mutations),
            time_attr="training_iteration",  # metric and mode come from the TuneConfig
            perturbation_interval=self.perturbation_interval,
            resample_probability=self.resample_probability,
            quantile_fraction=self.quantile_fraction,
            synch=self.synch,
            # Lists stay lists: PBT then moves to a neighbouring value rather than any value.
            hyperparam_mutations={
                k: list(v) if isinstance(v, (list, tuple)) else _domain(v)
                for k, v in self.hyperparam_mutations.items()
            },
        )


def _domain(spec):
    from ray import tune

    if isinstance(spec, dict):
        low, high = float(spec["min"]), float(spec["max"])
        return tune.loguniform(low, high) if spec.get("log") else tune.uniform(low, high)
    return tune.choice(list(spec))


def drop_unsaved_exploits(run_dir: Path, experiment_state: Path) -> int:
    """Before a resume: forget the exploits the experiment state does not know of.

    An exploit is written here at once, but Tune saves its effect (the trial's new config and
    checkpoint) only with its next experiment state, every couple of seconds; a run killed in
    between resumes as if the exploit never happened. Tune handles the exploit's result after
    the exploit, in the same step of its loop, so the state knows an exploit exactly when it
    knows a result received later. Returns how many records were dropped.
    """
    path = Path(run_dir) / EXPLOITS_FILE
    if not path.is_file():
        return 0
    saved_until = last_saved_result_time(experiment_state)
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if _time(line) <= saved_until]
    if len(kept) < len(lines):
        write_atomically(path, "".join(line + "\n" for line in kept))
    return len(lines) - len(kept)


def _time(line: str) -> float:
    try:
        return float(json.loads(line)["time"])
    except (ValueError, KeyError, TypeError):  # a line cut short by a kill
        return float("inf")
