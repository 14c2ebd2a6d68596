"""Tune's PopulationBasedTraining as `scheduler=pbt` runs it (settings in `pbt.py`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from smarts_rl.upstream.tune import PBTWithHooks


class RecordedPBT(PBTWithHooks):
    """PBT that keeps each trial's seed through exploits, and records every exploit (who
    copied whom, when, what changed) as JSON lines in the run directory, for the curves.
    (Tune's experiment state pickles it as `smarts_rl.persisted.RecordedPBT`.)"""

    def __init__(self, exploits_file: Path, mutated_keys: list[str], **kwargs):
        super().__init__(**kwargs)
        self._exploits_file = str(exploits_file)
        self._mutated_keys = mutated_keys

    def exploit_config(self, trial, new_config: dict) -> dict:
        # Tune copies the whole config of the trial it clones; the seed stays the trial's own,
        # or the two trials would go on sampling the very same episodes.
        new_config["seed"] = trial.config["seed"]
        return new_config

    def exploited(self, trial, trial_to_clone, new_config: dict) -> None:
        record = {
            "trial_id": trial.trial_id,
            "cloned_trial_id": trial_to_clone.trial_id,
            "cloned_iteration": trial_to_clone.last_result.get("training_iteration", 0),
            "time": time.time(),  # the curves mark the trial's first result after this
            "new_config": {k: new_config.get(k) for k in self._mutated_keys},
        }
        with open(self._exploits_file, "a") as f:
            f.write(json.dumps(record, default=str) + "\n")
