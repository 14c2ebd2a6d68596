"""The RLlib config built from our settings: env, policies and resources that fit the machine."""

import pytest

from smarts_rl.config import compose_config, settings
from smarts_rl.rllib_setup import SHARED_POLICY, build_algorithm_config


def trial_cpus(config) -> float:
    request = config.algo_class.default_resource_request(config)
    return sum(bundle.get("CPU", 0) for bundle in request.bundles)


@pytest.mark.parametrize("runners,trials", [(0, 1), (1, 1), (2, 1), (1, 2), (2, 4)])
def test_every_trial_fits_its_share_of_the_cpus(runners, trials, tmp_path):
    cfg = settings(compose_config([f"env_runners.num_env_runners={runners}"]))
    config = build_algorithm_config(cfg, tmp_path, cpus_per_trial=2.0 / trials)
    assert trial_cpus(config) == pytest.approx(2.0 / trials)


def test_policies_follow_agents_policy(tmp_path):
    shared = build_algorithm_config(settings(compose_config(["agents.count=2"])), tmp_path)
    assert set(shared.policies) == {SHARED_POLICY}
    assert shared.policy_mapping_fn("agent_1", None) == SHARED_POLICY
    own = build_algorithm_config(settings(compose_config(["agents.count=2", "agents.policy=per_agent"])), tmp_path)
    assert set(own.policies) == {"agent_0", "agent_1"}
    assert own.policy_mapping_fn("agent_1", None) == "agent_1"


def test_env_config_is_plain_and_absolute(tmp_path):
    config = build_algorithm_config(settings(compose_config(["agents.count=3", "seed=7"])), tmp_path)
    env_config = config.env_config
    assert env_config["scenario"] == str(tmp_path) and env_config["num_agents"] == 3 and env_config["seed"] == 7
    assert isinstance(env_config["agent"], dict) and env_config["agent"]["name"] == "laner"


def test_fault_tolerance_is_on_by_default_and_follows_the_config(tmp_path):
    from smarts_rl.fault_tolerance import MultiAgentRunner

    default = build_algorithm_config(settings(compose_config()), tmp_path)
    assert default.restart_failed_sub_environments and default.restart_failed_env_runners
    assert default.env_runner_cls is MultiAgentRunner  # resets give up after a few attempts
    off = build_algorithm_config(settings(compose_config([
        "fault_tolerance.restart_failed_sub_environments=false", "fault_tolerance.restart_failed_env_runners=false",
        "fault_tolerance.max_num_env_runner_restarts=3", "fault_tolerance.delay_between_env_runner_restarts_s=0.5",
    ])), tmp_path)
    assert not off.restart_failed_sub_environments and not off.restart_failed_env_runners
    assert (off.max_num_env_runner_restarts, off.delay_between_env_runner_restarts_s) == (3, 0.5)
