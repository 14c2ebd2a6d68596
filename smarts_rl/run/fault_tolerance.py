"""Surviving crashed simulations: RLlib's fault-tolerance settings, and env runners whose
env resets give up after a few failed attempts.

A `sumo` that dies or an env step that raises: the env runner closes its simulations, builds
new ones and resets them (`restart_failed_sub_environments`); the episodes under way are
dropped from the training batch and from the episode metrics, which count finished episodes
only (`env_runners/num_env_step_failures` and `env_runners/num_env_reset_failures` count the
failures). An env runner process that
dies, or whose sampling raised (with sub-env restarts off), is started again by Ray with the
same worker index and the current weights (`restart_failed_env_runners`), at most
`max_num_env_runner_restarts` times each; its samples of that moment are lost. Meanwhile the
iteration waits for it (`WaitForEnvRunners`) instead of ending without samples.
"""

from __future__ import annotations

# The env runners' patches live with the other uses of RLlib's internals (smarts_rl/upstream/rllib.py);
# the runners themselves are named by the pickled AlgorithmConfig of every checkpoint and Tune
# experiment state, so they are handed over by their promised names (smarts_rl/persisted.py).
from smarts_rl.persisted import MultiAgentRunner, SingleAgentRunner
from smarts_rl.upstream.rllib import NUM_ENV_RESET_FAILURES  # noqa: F401


def apply(config, settings, multi_agent: bool = True):
    """`settings`: `conf/config.yaml`'s `fault_tolerance` (a `FaultToleranceSettings`)."""
    # An iteration whose env runner died mid-sampling got no samples: it trains again (after
    # `WaitForEnvRunners` got one back) rather than reporting an empty iteration.
    config.reporting(min_sample_timesteps_per_iteration=1)
    return config.fault_tolerance(
        restart_failed_sub_environments=settings.restart_failed_sub_environments,
        restart_failed_env_runners=settings.restart_failed_env_runners,
        max_num_env_runner_restarts=settings.max_num_env_runner_restarts,
        delay_between_env_runner_restarts_s=settings.delay_between_env_runner_restarts_s,
    ).env_runners(env_runner_cls=MultiAgentRunner if multi_agent else SingleAgentRunner)
