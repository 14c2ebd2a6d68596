"""Tune's PopulationBasedTraining as `scheduler=pbt` runs it (settings in `pbt.py`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ray.tune.experiment import Trial
from ray.tune.schedulers import PopulationBasedTraining


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
