"""The RLlib config built from our settings: env, policies and resources that fit the machine."""

import pytest

from smarts_rl.config import compose_config, settings
from smarts_rl.env.policy_mapping import SHARED_POLICY
from smarts_rl.run.rllib_setup import build_algorithm_config


def trial_cpus(config) -> float:
    request = config.algo_class.default_resource_request(config)
    return sum(bundle.get("CPU", 0) for bundle in request.bundles)


@pytest.mark.parametrize("runners,trials", [(0, 1), (1, 1), (2, 1), (1, 2), (2, 4)])
def test_every_trial_fits_its_share_of_the_cpus(runners, trials, tmp_path):
    cfg = settings(compose_config([f"env_runners.num_env_runners={runners}"]))
    config = build_algorithm_config(cfg, tmp_path, cpus_per_trial=2.0 / trials)
    assert trial_cpus(config) == pytest.approx(2.0 / trials)


def test_a_set_cpus_per_env_runner_is_reserved_for_each_runner_and_the_trials_own_process(tmp_path):
    cfg = settings(compose_config(["env_runners.num_env_runners=2", "env_runners.num_cpus_per_env_runner=0.5"]))
    config = build_algorithm_config(cfg, tmp_path, cpus_per_trial=3.0)
    assert config.num_cpus_per_env_runner == pytest.approx(0.5)
    assert config.num_cpus_for_main_process == pytest.approx(0.5)
    assert trial_cpus(config) == pytest.approx(1.5)


def test_an_even_share_is_at_most_one_nodes_cpus(tmp_path):
    """One trial on a 64-CPU cluster of 16-CPU nodes: no process may ask for more than a node has."""
    cfg = settings(compose_config(["env_runners.num_env_runners=1", "ray.address=10.0.0.1:6379"]))
    config = build_algorithm_config(cfg, tmp_path, cpus_per_trial=64.0, largest_node_cpus=16.0)
    assert config.num_cpus_per_env_runner == config.num_cpus_for_main_process == pytest.approx(16.0)


@pytest.mark.parametrize(
    "overrides,cpus,message",
    [
        # 2 trials x (1 + 2 runners) x 0.5 = 3 CPUs
        (["scheduler=pbt", "scheduler.population_size=2", "env_runners.num_cpus_per_env_runner=0.5"], 2,
         "2 trial\\(s\\) x \\(1 \\+ 2 env runners\\) x 0.5 CPU = 3 CPUs do not fit in Ray's 2 CPUs"),
        (["env_runners.num_env_runners=1", "env_runners.num_cpus_per_env_runner=3"], 8,
         "num_cpus_per_env_runner=3: the largest node of the cluster has 2 CPUs"),
    ],
)
def test_runners_and_trials_that_cannot_fit_are_refused(overrides, cpus, message):
    from smarts_rl.run.cluster import check_fit
    from smarts_rl.errors import UsageError

    cfg = settings(compose_config(overrides))
    with pytest.raises(UsageError, match=message):
        check_fit(cfg, cpus, cfg.scheduler.population_size if cfg.scheduler.name == "pbt" else 1, largest_node_cpus=2)


def test_a_cluster_run_uses_the_clusters_cpus_or_at_most_ray_num_cpus():
    from smarts_rl.run.cluster import run_cpus
    from smarts_rl.errors import UsageError

    assert run_cpus(settings(compose_config(["ray.address=10.0.0.1:6379"])), 16.0) == 16.0
    assert run_cpus(settings(compose_config(["ray.address=10.0.0.1:6379", "ray.num_cpus=4"])), 16.0) == 4.0
    with pytest.raises(UsageError, match="ray.num_cpus=32: the cluster at 10.0.0.1:6379 has only 16 CPUs"):
        run_cpus(settings(compose_config(["ray.address=10.0.0.1:6379", "ray.num_cpus=32"])), 16.0)


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
    assert env_config["scenarios"] == {tmp_path.name: str(tmp_path)}
    assert env_config["num_agents"] == 3 and env_config["seed"] == 7
    assert isinstance(env_config["agent"], dict) and env_config["agent"]["name"] == "laner"
    assert env_config["scenario_shipped"] is False  # a local Ray loads the driver's scenario folder
    on_cluster = build_algorithm_config(settings(compose_config(["ray.address=10.0.0.1:6379"])), tmp_path)
    assert on_cluster.env_config["scenario_shipped"] is True


def test_fault_tolerance_is_on_by_default_and_follows_the_config(tmp_path):
    from smarts_rl.run.fault_tolerance import MultiAgentRunner

    default = build_algorithm_config(settings(compose_config()), tmp_path)
    assert default.restart_failed_sub_environments and default.restart_failed_env_runners
    assert default.env_runner_cls is MultiAgentRunner  # resets give up after a few attempts
    off = build_algorithm_config(settings(compose_config([
        "fault_tolerance.restart_failed_sub_environments=false", "fault_tolerance.restart_failed_env_runners=false",
        "fault_tolerance.max_num_env_runner_restarts=3", "fault_tolerance.delay_between_env_runner_restarts_s=0.5",
    ])), tmp_path)
    assert not off.restart_failed_sub_environments and not off.restart_failed_env_runners
    assert (off.max_num_env_runner_restarts, off.delay_between_env_runner_restarts_s) == (3, 0.5)
