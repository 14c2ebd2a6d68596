"""How a resumed run takes the sampling settings `resume=` may change (smarts_rl/run/resume.py).

Tune restores each trial with the config it saved in the experiment state, and its own copies
of the checkpoint and failure settings. So the new values get in two ways:
- `env_runners.*`, `ray.*` and the env runners' `fault_tolerance.*` are RLlib config keys of
  each trial: the resumed run's trainable builds every restored trial with them (and asks Tune
  for the CPUs they need);
- `checkpoint.num_to_keep` and `fault_tolerance.max_trial_failures` are Tune's, per trial: a Tune
  callback re-reads them from the run's config (with its resumes' changes,
  smarts_rl/run_dir/run_config.py) as each trial starts, as the stopper re-reads `stop.*`.
"""

from __future__ import annotations

from pathlib import Path

from ray.tune import Callback

from smarts_rl.run_dir.layout import run_dir_of
from smarts_rl.run_dir.run_config import run_config
from smarts_rl.upstream.tune import set_trial_limits

# The AlgorithmConfig keys that env_runners.*, ray.* and fault_tolerance.* decide
# (smarts_rl/run/rllib_setup.py, smarts_rl/run/fault_tolerance.py). env_config: whether the scenario
# is shipped to a cluster's nodes.
SAMPLING_KEYS = (
    "num_env_runners",
    "num_envs_per_env_runner",
    "num_cpus_per_env_runner",
    "num_cpus_for_main_process",
    "num_cpus_per_learner",
    "restart_failed_sub_environments",
    "restart_failed_env_runners",
    "max_num_env_runner_restarts",
    "delay_between_env_runner_restarts_s",
    "env_config",
)


def sampling_settings(algo_config) -> dict:
    config = algo_config.to_dict()
    return {key: config[key] for key in SAMPLING_KEYS}


def with_sampling_settings(trainable: type, settings: dict) -> type:
    """`trainable` (an RLlib Algorithm class) building each trial with `settings` over its saved config.

    Same name, so Tune takes it for the trainable the experiment was started with."""

    def updated(config):
        return {**config, **settings} if isinstance(config, dict) else config

    class Resumed(trainable):
        @classmethod
        def default_resource_request(cls, config):
            return super().default_resource_request(updated(config))

        def __init__(self, config=None, *args, **kwargs):
            super().__init__(updated(config), *args, **kwargs)

    Resumed.__name__ = Resumed.__qualname__ = trainable.__name__
    return Resumed


class RunSettings(Callback):
    """Each trial keeps `checkpoint.num_to_keep` checkpoints and may fail
    `fault_tolerance.max_trial_failures` times, as the run's config says when the trial starts.

    `config_file`: the run's `.hydra/config.yaml`. Pickles of earlier sessions hold `_config_file`
    only: keep that name."""

    def __init__(self, config_file: Path):
        self._config_file = str(config_file)

    def on_trial_start(self, iteration, trials, trial, **info):
        cfg = run_config(run_dir_of(self._config_file))
        set_trial_limits(trial, cfg.checkpoint.num_to_keep, cfg.fault_tolerance.max_trial_failures)
