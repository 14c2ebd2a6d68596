"""PPO's RLlib classes: RLlib's own, with the lr-from-config learner and crash-tolerant env runners."""

from ray.rllib.algorithms.ppo import PPO as RLlibPPO
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner

from smarts_rl.upstream.rllib import LrFromConfig, WaitForEnvRunners


class LrFromConfigPPOLearner(LrFromConfig, PPOTorchLearner):
    """RLlib's PPO learner whose optimizer takes the config's lr after a restore."""


class PPO(WaitForEnvRunners, RLlibPPO):
    """RLlib's PPO, waiting for its env runners to come back after a crash (see smarts_rl/upstream/rllib.py)."""
