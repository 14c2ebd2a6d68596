"""`algo=rllib_ppo`: RLlib's own PPO, unwrapped, as a user would add an RLlib algorithm."""

from dataclasses import dataclass, field
from typing import List

from smarts_rl.algorithms.contract import Algorithm


@dataclass
class Settings(Algorithm):
    name: str = "rllib_ppo"
    lr: float = 3e-4
    """Adam learning rate."""
    train_batch_size: int = 400
    """Env steps per training iteration."""
    minibatch_size: int = 100
    """SGD minibatch size."""
    num_epochs: int = 2
    """SGD passes over each batch."""
    fcnet_hiddens: List[int] = field(default_factory=lambda: [32, 32])
    """Hidden layer sizes."""
    fcnet_activation: str = "tanh"
    """Hidden layer activation."""

    def __post_init__(self):
        if self.lr <= 0:
            raise ValueError(f"algo.lr must be > 0, got {self.lr}")
        if self.minibatch_size > self.train_batch_size:
            raise ValueError(f"algo.minibatch_size must be <= algo.train_batch_size, got {self.minibatch_size}")

    def algorithm_config(self):
        from ray.rllib.algorithms.ppo import PPOConfig

        return (
            PPOConfig()
            .training(lr=self.lr, train_batch_size=self.train_batch_size, minibatch_size=self.minibatch_size,
                      num_epochs=self.num_epochs)
            .rl_module(model_config={"fcnet_hiddens": list(self.fcnet_hiddens),
                                     "fcnet_activation": self.fcnet_activation})
        )
