"""RLlib's default actor-critic MLP (separate policy and value networks), with a chosen spread
of its Gaussian actions at the start of training.

RLlib's policy head outputs the mean and the log standard deviation of each action dimension,
starting near log std 0: a standard deviation of 1 in RLlib's normalised [-1, 1] action range,
i.e. steering that is mostly noise. A driving policy learns far sooner from a smaller spread
(Stable-Baselines3 calls the same knob `log_std_init`). Discrete actions are left as they are.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule

LOG_STD_INIT = "log_std_init"  # model_config key: the initial log std (None: RLlib's start)


class ActorCriticModule(DefaultPPOTorchRLModule):
    def setup(self):
        super().setup()
        log_std = self.model_config.get(LOG_STD_INIT)
        if log_std is None or not isinstance(self.action_space, gym.spaces.Box):
            return
        output = [m for m in self.pi.modules() if isinstance(m, torch.nn.Linear)][-1]
        dims = output.out_features // 2  # [means..., log stds...]
        with torch.no_grad():
            # The same spread in every state to begin with; training may make it state-dependent.
            output.weight[dims:].zero_()
            output.bias[dims:].fill_(float(log_std))
