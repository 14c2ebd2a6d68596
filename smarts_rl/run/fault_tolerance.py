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

import logging
import time

from ray.rllib.env.env_runner import ENV_RESET_TIMER
from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

log = logging.getLogger(__name__)
# Failed env resets, logged by env runners next to RLlib's `num_env_step_failures`.
NUM_ENV_RESET_FAILURES = "num_env_reset_failures"
# Seconds a training step waits for Ray to bring back an env runner when none is healthy.
ENV_RUNNER_WAIT_S = 300.0
# Attempts at resetting freshly built envs before the env runner gives up (and, being a
# remote runner, is restarted by Ray).
RESET_ATTEMPTS = 3


class BoundedResetRetries:
    """RLlib's env runners, with `restart_failed_sub_environments`, rebuild and reset their envs
    again after a failed reset, recursively and without limit: a scenario that cannot reset
    would loop forever. Here the reset is retried `RESET_ATTEMPTS` times, then its error raised."""

    def _try_env_reset(self, *, seed=None, options=None):
        for attempt in range(1, RESET_ATTEMPTS + 1):
            try:
                with self.metrics.log_time(ENV_RESET_TIMER):
                    return self.env.reset(seed=seed, options=options)
            except Exception as exc:
                self.metrics.log_value(NUM_ENV_RESET_FAILURES, 1, reduce="lifetime_sum")
                if not self.config.restart_failed_sub_environments or attempt == RESET_ATTEMPTS:
                    raise
                log.warning("env reset failed (attempt %d of %d), rebuilding the envs: %s: %s",
                            attempt, RESET_ATTEMPTS, type(exc).__name__, exc)
                self.make_env()


class SeedFirstResetOnly:
    """RLlib 2.60's env runners pass their seed to every reset of a `sample()` of complete
    episodes (`_needs_initial_reset` is set again after each, and `_reset_envs` then seeds), so
    each such episode started from the same seed: an env runner drove the same few episodes over
    and over. Here each env gets the seed at its first reset only, as RLlib's comment there
    intends; later resets draw from the env's own seeded generator (a rebuilt env is seeded again)."""

    def _try_env_reset(self, *, seed=None, options=None):
        if getattr(self, "_seeded_env", None) is self.env:
            seed = None
        result = super()._try_env_reset(seed=seed, options=options)
        self._seeded_env = self.env
        return result


class WaitForEnvRunners:
    """Mixin for our Algorithms. RLlib 2.60 runs a training step even when every remote env
    runner is down (say, one runner whose process died and is being restarted by Ray): the
    iteration then ends at once with no samples, no update and no episode, and a run would
    "complete" its iterations that way. Here the step first waits, up to `ENV_RUNNER_WAIT_S`,
    until Ray has brought one back; if none comes back, the trial fails."""

    def restore_env_runners(self, env_runner_group):
        restored = list(super().restore_env_runners(env_runner_group))
        if env_runner_group is not self.env_runner_group or not self.config.restart_failed_env_runners:
            return restored
        deadline = time.monotonic() + ENV_RUNNER_WAIT_S
        while env_runner_group.num_remote_env_runners() > 0 and env_runner_group.num_healthy_remote_env_runners() == 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no env runner is running again {ENV_RUNNER_WAIT_S:.0f} s after the last one failed")
            time.sleep(1.0)
            restored += super().restore_env_runners(env_runner_group)
        return restored


class MultiAgentRunner(SeedFirstResetOnly, BoundedResetRetries, MultiAgentEnvRunner):
    pass


class SingleAgentRunner(SeedFirstResetOnly, BoundedResetRetries, SingleAgentEnvRunner):
    pass


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
