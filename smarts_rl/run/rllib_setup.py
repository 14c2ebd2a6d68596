"""From validated settings to an RLlib `AlgorithmConfig` that trains on SMARTS."""

from __future__ import annotations

from pathlib import Path

from ray.rllib.algorithms import AlgorithmConfig
from ray.tune.registry import register_env

from smarts_rl.run.cluster import process_cpus
from smarts_rl.config import Config
from smarts_rl.run import fault_tolerance
from smarts_rl.env import SmartsEnv, agent_ids, env_config
# What the AlgorithmConfig hands to RLlib is pickled with it: by its promised name.
from smarts_rl.persisted import DrivingMetrics, SimulatorTime, own_policy, shared_policy

ENV_NAME = "smarts_rl/SmartsEnv"
# SMARTS samples at ~100 steps/s per core: RLlib's default 60 s sample timeout is too short.
SAMPLE_TIMEOUT_S = 1800.0


def module_mapping(agents_policy: str):
    """`agents.policy` as RLlib's policy mapping: agent id -> the id of the module that drives it
    (env/policy_mapping.py's, by the names RLlib pickles it under)."""
    return shared_policy if agents_policy == "shared" else own_policy


def register(algo, algo_config: AlgorithmConfig) -> None:
    """Register the env and the algorithm's trainable with this Ray session (lost at `ray.shutdown`)."""
    register_env(ENV_NAME, SmartsEnv)
    algo.register(algo_config)


def build_algorithm_config(
    cfg: Config, scenario_dirs: dict[str, Path] | Path, cpus_per_trial: float | None = None, largest_node_cpus: float | None = None
) -> AlgorithmConfig:
    config = cfg.algo.algorithm_config()
    ids = agent_ids(cfg.agents.count)
    mapping = module_mapping(cfg.agents.policy)
    policies = {mapping(agent_id) for agent_id in ids}
    config = (
        config.environment(
            ENV_NAME,
            # On a cluster the job ships the built scenarios (smarts_rl.run.cluster.runtime_env).
            env_config=env_config(scenario_dirs, cfg.agent, num_agents=cfg.agents.count, seed=cfg.seed,
                                  scenario_shipped=bool(cfg.ray.address),
                                  scenario_sampling=cfg.scenario.sampling, scenario_weights=cfg.scenario.weights,
                                  num_envs_per_env_runner=cfg.env_runners.num_envs_per_env_runner),
            disable_env_checking=True,
        )
        .env_runners(
            num_env_runners=cfg.env_runners.num_env_runners,
            num_envs_per_env_runner=cfg.env_runners.num_envs_per_env_runner,
            sample_timeout_s=SAMPLE_TIMEOUT_S,
        )
        .multi_agent(policies=policies, policy_mapping_fn=mapping)
        .callbacks([DrivingMetrics, SimulatorTime])
        .debugging(seed=cfg.seed, log_level="ERROR")
    )
    config = fault_tolerance.apply(config, cfg.fault_tolerance)
    if cpus_per_trial is not None:
        # Fractional CPUs let every trial of a PBT population run at once on a small machine.
        main, per_runner = process_cpus(cfg, cpus_per_trial, largest_node_cpus)
        config.env_runners(num_cpus_per_env_runner=per_runner)
        # With no remote learners the learner lives in the main process, which RLlib sizes
        # as max(num_cpus_per_learner, num_cpus_for_main_process): set both.
        config.resources(num_cpus_for_main_process=main)
        config.learners(num_cpus_per_learner=main)
    return config
