"""PG's RLlib classes: its AlgorithmConfig and the Algorithm whose training step is one
policy-gradient update (see `pg.py` for what an iteration does and for the settings)."""

import math
from contextlib import contextmanager

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.metrics import (
    ALL_MODULES,
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from smarts_rl.algorithms.actor_critic_module import ActorCriticModule
from smarts_rl.upstream.rllib import (
    SeparateValueNetwork, WaitForEnvRunners, config_error, default_actor_critic_catalog,
)

# Timers of this iteration alone, beside RLlib's smoothed ones: timers/this_iter/<timer>.
THIS_ITER = "this_iter"
# What may be subtracted from the reward-to-go. This module and pg.py's schema each state it and
# the defaults below (pg.py builds this config; importing it back would make a circle);
# tests/test_pg_algorithm.py checks that they agree.
BASELINES = ("none", "value")


class PGConfig(SeparateValueNetwork, AlgorithmConfig):
    """RLlib config of PG; the PG-specific knobs are set through `.training(...)`. Separate
    policy and value networks: the value loss must not shape the policy."""

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or PG)
        # The defaults of `algo=pg` (pg.py's `Settings`).
        self.lr = 0.001
        self.gamma = 0.99
        self.lambda_ = 1.0
        self.train_batch_size = 1000
        self.grad_clip = 0.5
        self.batch_mode = "complete_episodes"
        self.baseline = "value"
        self.normalize_advantages = True
        self.entropy_coeff = 0.0
        self.vf_loss_coeff = 1.0
        self.vf_iters = 10

    def training(
        self,
        *,
        lambda_=NotProvided,
        baseline=NotProvided,
        normalize_advantages=NotProvided,
        entropy_coeff=NotProvided,
        vf_loss_coeff=NotProvided,
        vf_iters=NotProvided,
        **kwargs,
    ) -> "PGConfig":
        """Sets RLlib's training settings plus PG's (see `Settings` for their meaning)."""
        super().training(**kwargs)
        given = {"lambda_": lambda_, "baseline": baseline, "normalize_advantages": normalize_advantages,
                 "entropy_coeff": entropy_coeff, "vf_loss_coeff": vf_loss_coeff, "vf_iters": vf_iters}
        for name, value in given.items():
            if value is not NotProvided:
                setattr(self, name, value)
        return self

    def validate(self) -> None:
        super().validate()
        if self.baseline not in BASELINES:
            config_error(self, f"`baseline` must be one of {BASELINES}, got {self.baseline!r}")
        if self.batch_mode == "truncate_episodes" and self.baseline != "value":
            config_error(
                self,
                "`batch_mode=truncate_episodes` needs `baseline='value'` to bootstrap "
                "the returns of cut-off episodes; use `complete_episodes`.",
            )
        if not isinstance(self.lambda_, (int, float)) or not 0 <= self.lambda_ <= 1:
            config_error(self, f"`lambda_` must be in [0, 1], got {self.lambda_!r}")
        if self.lambda_ < 1 and self.baseline != "value":
            config_error(self, "`lambda_` < 1 (GAE) needs `baseline='value'`.")
        if not isinstance(self.vf_iters, int) or self.vf_iters < 1:
            config_error(self, f"`vf_iters` must be an int >= 1, got {self.vf_iters!r}")
        if not isinstance(self.entropy_coeff, (int, float)) or self.entropy_coeff < 0:
            config_error(self, f"`entropy_coeff` must be a float >= 0, got {self.entropy_coeff!r}")

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=ActorCriticModule, catalog_class=default_actor_critic_catalog())

    def get_default_learner_class(self):
        from smarts_rl.algorithms.pg_learner import PGTorchLearner

        return PGTorchLearner


class PG(WaitForEnvRunners, Algorithm):
    """Sample a batch, one policy-gradient update, sync weights to the EnvRunners.

    Like RLlib's own algorithms, PG does not implement Tune's `reset_config`
    (it returns False): run Tune with `reuse_actors=False` (its default), so a
    PBT exploit builds a fresh actor from the mutated config and restores the
    checkpoint into it, which `LrFromConfig` makes honour the new lr.
    """

    @classmethod
    def get_default_config(cls) -> PGConfig:
        return PGConfig()

    @contextmanager
    def timed(self, timer: str):
        """RLlib's timer (smoothed over iterations), and the same seconds for this iteration alone
        under `timers/this_iter/`, which bench/train_throughput.py's profile adds up."""
        with self.metrics.log_time((TIMERS, timer)), self.metrics.log_time((TIMERS, THIS_ITER, timer), reduce="sum"):
            yield

    def training_step(self) -> None:
        with self.timed(ENV_RUNNER_SAMPLING_TIMER):
            episodes, env_runner_results = self.sample_train_batch()
        if not episodes:
            return
        self.metrics.aggregate(env_runner_results, key=ENV_RUNNER_RESULTS)

        with self.timed(LEARNER_UPDATE_TIMER):
            learner_results = self.learner_group.update(
                episodes=episodes,
                timesteps={
                    NUM_ENV_STEPS_SAMPLED_LIFETIME: self.metrics.peek(
                        (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME)
                    ),
                },
            )
        self.metrics.aggregate(learner_results, key=LEARNER_RESULTS)

        with self.timed(SYNCH_WORKER_WEIGHTS_TIMER):
            # Only modules that were in this batch changed.
            trained_modules = set(learner_results[0].keys()) - {ALL_MODULES}
            self.env_runner_group.sync_weights(
                from_worker_or_learner_group=self.learner_group,
                policies=trained_modules,
                inference_only=True,
            )

    def sample_train_batch(self) -> tuple[list, list[dict]]:
        """`train_batch_size` env steps (agent steps with `count_steps_by=agent_steps`), each env
        runner sampling its share in one call, and the runners' metrics.

        RLlib's `synchronous_parallel_sample` asks every runner for one episode per sub-env per
        round, so with complete episodes the runners met after every episode: the one whose
        episode ended first waited for the other's, and each round paid a remote call. Here
        each runner samples its share of the batch on its own; they meet once per iteration.
        """
        group, budget = self.env_runner_group, self.config.total_train_batch_size
        by_agent_steps = self.config.count_steps_by == "agent_steps"
        episodes, results, sampled = [], [], 0
        while sampled < budget:
            if group.num_remote_workers() <= 0:
                batches = [sample_steps(group.local_env_runner, budget - sampled, by_agent_steps)]
            else:
                share = math.ceil((budget - sampled) / max(1, group.num_healthy_remote_workers()))
                batches = group.foreach_env_runner(
                    lambda runner: sample_steps(runner, share, by_agent_steps),
                    local_env_runner=False,
                    timeout_seconds=self.config.sample_timeout_s,
                )
                # A runner that crashed returns nothing; with none left, leave the rest to the next
                # iteration, whose restore brings runners back (as RLlib's own sampling does).
                if not batches or group.num_healthy_remote_workers() <= 0:
                    break
            for runner_episodes, runner_results, steps in batches:
                episodes.extend(runner_episodes)
                results.append(runner_results)
                sampled += steps
        return episodes, results


def sample_steps(env_runner, steps: int, by_agent_steps: bool) -> tuple[list, dict, int]:
    """On one env runner: whole `sample()` calls (complete episodes, or fragments with
    `truncate_episodes`) until at least `steps` steps; the episodes, the runner's metrics and
    the steps sampled."""
    episodes, sampled = [], 0
    while sampled < steps:
        batch = env_runner.sample()
        episodes.extend(batch)
        sampled += sum(e.agent_steps() if by_agent_steps else e.env_steps() for e in batch)
    return episodes, env_runner.get_metrics(), sampled
