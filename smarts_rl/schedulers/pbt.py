"""`scheduler=pbt`: Population Based Training over `algo.*` hyperparameters."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict

from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import PopulationBasedTraining

from smarts_rl.atomic_file import write_text_atomically

EXPLOITS_FILE = "exploits.jsonl"


@dataclass
class Settings:
    name: str = "pbt"
    """Scheduler name (this file's name)."""
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


def num_trials(settings: Settings) -> int:
    return settings.population_size


def checkpoint_frequency(settings: Settings, configured: int) -> int:
    """PBT exploits only trials with a checkpoint: checkpoint at every perturbation."""
    return settings.perturbation_interval


def _domain(spec):
    if isinstance(spec, dict):
        low, high = float(spec["min"]), float(spec["max"])
        return tune.loguniform(low, high) if spec.get("log") else tune.uniform(low, high)
    return tune.choice(list(spec))


def param_space_overrides(settings: Settings, seed: int) -> dict:
    """Trial i trains with seed + i (its own episodes and initial weights) and starts from its
    own sample of the mutated hyperparameters."""
    return {
        "seed": tune.grid_search([seed + i for i in range(settings.population_size)]),
        **{key: _domain(spec) for key, spec in settings.hyperparam_mutations.items()},
    }


class RecordedPBT(PopulationBasedTraining):
    """PBT that keeps each trial's seed through exploits, and records every exploit (who
    copied whom, when, what changed) as JSON lines in the run directory, for the curves."""

    def __init__(self, exploits_file: Path, mutated_keys: list[str], **kwargs):
        super().__init__(**kwargs)
        self._exploits_file = str(exploits_file)
        self._mutated_keys = mutated_keys

    def _get_new_config(self, trial, trial_to_clone):
        # Tune copies the whole config of the trial it clones; the seed stays the trial's own,
        # or the two trials would go on sampling the very same episodes.
        new_config, operations = super()._get_new_config(trial, trial_to_clone)
        new_config["seed"] = trial.config["seed"]
        return new_config, operations

    def _log_config_on_step(self, trial_state, new_state, trial, trial_to_clone, new_config):
        super()._log_config_on_step(trial_state, new_state, trial, trial_to_clone, new_config)
        record = {
            "trial_id": trial.trial_id,
            "cloned_trial_id": trial_to_clone.trial_id,
            "cloned_iteration": trial_to_clone.last_result.get("training_iteration", 0),
            "time": time.time(),  # the curves mark the trial's first result after this
            "new_config": {k: new_config.get(k) for k in self._mutated_keys},
        }
        with open(self._exploits_file, "a") as f:
            f.write(json.dumps(record, default=str) + "\n")

    def choose_trial_to_run(self, tune_controller):
        # Synchronous PBT runs only trials behind `_next_perturbation_sync`. After a resume the
        # trials can restart from different iterations (one from its checkpoint, one from
        # scratch); the first exploit then moves the sync point to the most advanced trial's
        # iteration and the exploited trial to that same iteration, so no trial is behind it
        # and Tune waits forever with every trial paused. Every trial waiting means all have
        # reached the sync point: move it on by one interval.
        trial = super().choose_trial_to_run(tune_controller)
        live = tune_controller.get_live_trials()
        if trial is None and self._synch and live and all(t.status in (Trial.PENDING, Trial.PAUSED) for t in live):
            times = [self._trial_state[t].last_train_time for t in live if t in self._trial_state]
            if times:
                self._next_perturbation_sync = min(times) + self._perturbation_interval
                trial = super().choose_trial_to_run(tune_controller)
        return trial


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
    state = json.loads(Path(experiment_state).read_text())
    saved_until = max(
        (json.loads(meta).get("last_result_time", float("-inf")) for _, meta in state["trial_data"]),
        default=float("-inf"),
    )
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if _time(line) <= saved_until]
    if len(kept) < len(lines):
        write_text_atomically(path, "".join(line + "\n" for line in kept))
    return len(lines) - len(kept)


def _time(line: str) -> float:
    try:
        return float(json.loads(line)["time"])
    except (ValueError, KeyError, TypeError):  # a line cut short by a kill
        return float("inf")


def tune_scheduler(settings: Settings, metric: str, run_dir: Path) -> PopulationBasedTraining:
    return RecordedPBT(
        exploits_file=Path(run_dir) / EXPLOITS_FILE,
        mutated_keys=list(settings.hyperparam_mutations),
        time_attr="training_iteration",  # metric and mode come from the TuneConfig
        perturbation_interval=settings.perturbation_interval,
        resample_probability=settings.resample_probability,
        quantile_fraction=settings.quantile_fraction,
        synch=settings.synch,
        # Lists stay lists: PBT then moves to a neighbouring value rather than any value.
        hyperparam_mutations={
            k: list(v) if isinstance(v, (list, tuple)) else _domain(v)
            for k, v in settings.hyperparam_mutations.items()
        },
    )
