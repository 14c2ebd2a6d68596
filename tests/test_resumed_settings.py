"""How a resumed run takes new sampling settings (smarts_rl/run/resumed_settings.py), without Ray.

The whole path (kill -9, then a resume on one env runner keeping one checkpoint) is
tests/test_driver_faults.py's sampling case."""

from pathlib import Path

from smarts_rl.config import compose_config, settings
from smarts_rl.run.resumed_settings import sampling_settings, with_sampling_settings
from smarts_rl.upstream.tune import set_trial_limits


def algorithm_config(*overrides: str):
    from smarts_rl.run.rllib_setup import build_algorithm_config

    return build_algorithm_config(settings(compose_config(list(overrides))), Path("unused"), 2)


def test_a_restored_trial_is_built_with_the_new_sampling_settings_and_asks_for_their_cpus():
    from smarts_rl.algorithms.pg import PG

    saved = algorithm_config("env_runners.num_env_runners=2").to_dict()  # as the trial's config holds it
    resumed = with_sampling_settings(PG, sampling_settings(algorithm_config("env_runners.num_env_runners=1")))
    assert resumed.__name__ == PG.__name__  # Tune matches the trainable by name
    assert len(PG.default_resource_request(saved).bundles) == 3  # the main process and two env runners
    bundles = resumed.default_resource_request(saved).bundles
    assert len(bundles) == 2 and sum(b["CPU"] for b in bundles) == 2


def test_set_trial_limits_changes_what_a_restored_trial_keeps_and_survives():
    from ray.tune import CheckpointConfig
    from ray.tune.experiment import Trial

    trial = Trial("PG", config={}, stub=True, max_failures=2,
                  checkpoint_config=CheckpointConfig(num_to_keep=3, checkpoint_frequency=5))
    set_trial_limits(trial, num_to_keep=1, max_failures=0)
    kept = trial.run_metadata.checkpoint_manager.checkpoint_config
    assert kept.num_to_keep == 1 and kept.checkpoint_frequency == 5
    assert trial.max_failures == 0
    trial.run_metadata.num_failures = 1
    assert not trial.should_recover()
