"""RLlib's default actor-critic MLP (separate policy and value networks), with a chosen spread
of its Gaussian actions at the start of training and, optionally, a ceiling on that spread
that comes down as training goes on.

RLlib's policy head outputs the mean and the log standard deviation of each action dimension,
starting near log std 0: a standard deviation of 1 in RLlib's normalised [-1, 1] action range,
i.e. steering that is mostly noise. A driving policy learns far sooner from a smaller spread
(Stable-Baselines3 calls the same knob `log_std_init`).

Why a ceiling: the policy is evaluated by its mean action, but it learns its throttle for the
noisy car it drives in training. Steering noise scrubs speed off, so a mean action tuned that
way drives markedly faster than the car it trained in (on the loop: 15 m/s against 11, and 60%
collisions instead of 30%). Lowering the spread towards the end of training lets the policy
re-tune for the car it will be evaluated in. PG's default narrows it from e^-1 to e^-1.5; merge's
preset goes on to e^-2.5 with the lr cut meanwhile (two loop runs that narrowed to e^-2.5 at an
uncut lr 3e-3 collapsed; see docs/results.md). The ceiling is a buffer of the module, so it
travels with the weights to the env runners and into checkpoints; the learner moves it.
Discrete actions are left as they are.

Optionally the module also standardises its observations (`normalize_observations`), as
Stable-Baselines3's VecNormalize does: each feature minus its running mean, over its running
standard deviation, clipped to +-10. Our features are scaled to [-1, 1] once for all scenarios,
so on a given map some barely move (the heading error on straight roads stays within a few
degrees, 0.03 of its range); standardised, the network sees them at a usable scale. The
running statistics are buffers of the module, like the ceiling: they travel with the weights
and into checkpoints, and the learner updates them from each training batch before its step.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns

from smarts_rl.agents.policy_network import standardized
from smarts_rl.upstream.rllib import NoModeSwitchOnSampling, default_actor_critic_module, policy_linear_layers

LOG_STD_INIT = "log_std_init"  # model_config key: the initial log std (None: RLlib's start)
LOG_STD_MAX = "log_std_max"  # model_config key: None, a number or [[env_step, log std], ...]
NORMALIZE_OBSERVATIONS = "normalize_observations"  # model_config key: standardise observations


def schedule_value(schedule, env_steps: int) -> float:
    """A number, or a piecewise-linear schedule's value at `env_steps` (flat after its end)."""
    if not isinstance(schedule, (list, tuple)):
        return float(schedule)
    steps, values = zip(*schedule)
    return float(np.interp(env_steps, steps, values))


# An MLP computes the same in training and eval mode: its env runners' forward passes on a
# batch of one skip RLlib's switch between the two (see NoModeSwitchOnSampling).
class ActorCriticModule(NoModeSwitchOnSampling, default_actor_critic_module()):
    def setup(self):
        super().setup()
        if self.model_config.get(NORMALIZE_OBSERVATIONS):
            size = int(np.prod(self.observation_space.shape))
            # Before the first batch: the identity (mean 0, variance 1).
            self.register_buffer("obs_count", torch.zeros((), dtype=torch.float64))
            self.register_buffer("obs_mean", torch.zeros(size))
            self.register_buffer("obs_var", torch.ones(size))
        if not isinstance(self.action_space, gym.spaces.Box):
            return
        output = policy_linear_layers(self)[-1]
        self._action_dims = output.out_features // 2  # [means..., log stds...]
        log_std = self.model_config.get(LOG_STD_INIT)
        if log_std is not None:
            with torch.no_grad():
                # The same spread in every state to begin with; training may make it state-dependent.
                output.weight[self._action_dims:].zero_()
                output.bias[self._action_dims:].fill_(float(log_std))
        if self.model_config.get(LOG_STD_MAX) is not None:
            self.register_buffer("log_std_max", torch.tensor(self.log_std_max_at(0)))

    @property
    def has_log_std_max(self) -> bool:
        return hasattr(self, "log_std_max")

    def log_std_max_at(self, env_steps: int) -> float:
        return schedule_value(self.model_config[LOG_STD_MAX], env_steps)

    def set_log_std_max(self, env_steps: int) -> None:
        with torch.no_grad():
            self.log_std_max.fill_(self.log_std_max_at(env_steps))

    @property
    def normalizes_observations(self) -> bool:
        return hasattr(self, "obs_mean")

    def update_observation_stats(self, observations: torch.Tensor) -> None:
        """Merge a batch of observations (rows) into the running mean and variance (Chan et al.)."""
        if len(observations) == 0:
            return
        with torch.no_grad():
            observations = observations.reshape(len(observations), -1).to(self.obs_mean.dtype)
            count = float(len(observations))
            batch_mean = observations.mean(0)
            batch_var = observations.var(0, unbiased=False)
            total = float(self.obs_count) + count
            delta = batch_mean - self.obs_mean
            new_mean = self.obs_mean + delta * (count / total)
            # Sum of squared deviations of the old rows and of the batch, plus the shift between them.
            m2 = self.obs_var * float(self.obs_count) + batch_var * count + delta**2 * (float(self.obs_count) * count / total)
            self.obs_mean.copy_(new_mean)
            self.obs_var.copy_(m2 / total)
            self.obs_count.fill_(total)

    def normalized(self, observations: torch.Tensor) -> torch.Tensor:
        """Observations as the networks see them: standardised if the module does that."""
        if not self.normalizes_observations:
            return observations
        return standardized(observations, self.obs_mean, self.obs_var)

    def _with_normalized_observations(self, batch: dict) -> dict:
        if not self.normalizes_observations:
            return batch
        return {**batch, Columns.OBS: self.normalized(batch[Columns.OBS])}

    def _forward(self, batch, **kwargs):
        return self._capped(super()._forward(self._with_normalized_observations(batch), **kwargs))

    def _forward_train(self, batch, **kwargs):
        return self._capped(super()._forward_train(self._with_normalized_observations(batch), **kwargs))

    def compute_values(self, batch, embeddings=None):
        # Embeddings from `_forward_train` already come from standardised observations.
        if embeddings is None:
            batch = self._with_normalized_observations(batch)
        return super().compute_values(batch, embeddings)

    def _capped(self, output: dict) -> dict:
        if self.has_log_std_max:
            inputs = output[Columns.ACTION_DIST_INPUTS]
            mean, log_std = inputs[..., : self._action_dims], inputs[..., self._action_dims :]
            output[Columns.ACTION_DIST_INPUTS] = torch.cat([mean, torch.minimum(log_std, self.log_std_max)], -1)
        return output
