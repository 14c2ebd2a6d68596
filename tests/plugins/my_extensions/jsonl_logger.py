"""A logger of one's own: a Tune callback writing every trial's iterations as JSON lines."""

import json
from pathlib import Path

from ray.tune import Callback


class JsonLinesLogger(Callback):
    def __init__(self, run_dir: str, file: str = "my_log.jsonl"):
        self._path = str(Path(run_dir) / file)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        record = {"trial_id": trial.trial_id, "training_iteration": result["training_iteration"],
                  "env_steps": result["env_runners"]["num_env_steps_sampled_lifetime"]}
        with open(self._path, "a") as f:
            f.write(json.dumps(record) + "\n")
