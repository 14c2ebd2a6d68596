"""RLlib's PPO in the same framework as PG (`algo=ppo`), for side-by-side comparison.

The algorithm is RLlib's own; the only addition is the `LrFromConfig` learner
mixin, so that PBT's lr mutations take effect after a restore here as in PG.
Defaults are RLlib 2.60's PPO defaults. The RLlib classes live in `ppo_algorithm.py`: this
module is the config group's schema and imports Ray only when a run asks for the algorithm.
"""

from dataclasses import dataclass, field
from typing import Any, List, Optional

from smarts_rl.algorithms import ACTIVATIONS, checks, mlp_model_config
from smarts_rl.algorithms.contract import Algorithm


@dataclass
class Settings(Algorithm):
    """`conf/algo/ppo.yaml`. Names match RLlib AlgorithmConfig attributes (PBT mutates by name)."""

    name: str = "ppo"

    # Adam learning rate, or a schedule [[env_step, lr], ...] (linear in between, first step 0).
    lr: Any = 5e-5
    # Discount factor.
    gamma: float = 0.99
    # Env steps sampled per training iteration.
    train_batch_size: int = 4000
    # Passes (epochs) of SGD over each train batch.
    num_epochs: int = 30
    # SGD minibatch size in env steps (<= train_batch_size).
    minibatch_size: int = 128
    # GAE lambda (1.0: Monte-Carlo returns bootstrapped at cut-offs; 0.0: one-step TD).
    lambda_: float = 1.0
    # PPO's clip range of the probability ratio.
    clip_param: float = 0.3
    # Clip of the squared value error (in squared reward units).
    vf_clip_param: float = 10.0
    # Weight of the value-function loss.
    vf_loss_coeff: float = 1.0
    # Weight of the entropy bonus.
    entropy_coeff: float = 0.0
    # Add an adaptive KL penalty towards the sampling policy.
    use_kl_loss: bool = True
    # Initial weight of that KL penalty.
    kl_coeff: float = 0.2
    # KL the adaptive penalty aims for.
    kl_target: float = 0.01
    # Clip the global gradient norm to this value (null disables clipping).
    grad_clip: Optional[float] = None
    # Hidden layer sizes of the policy network (the value network gets the same).
    fcnet_hiddens: List[int] = field(default_factory=lambda: [256, 256])
    # Activation of the hidden layers.
    fcnet_activation: str = "tanh"

    def __post_init__(self):
        self.lr = checks.lr_or_schedule("lr", self.lr)
        checks.discount("gamma", self.gamma)
        checks.at_least_one("train_batch_size", self.train_batch_size)
        checks.at_least_one("num_epochs", self.num_epochs)
        checks.at_least_one("minibatch_size", self.minibatch_size)
        if self.minibatch_size > self.train_batch_size:
            checks.fail("minibatch_size", f"<= algo.train_batch_size ({self.train_batch_size})",
                        self.minibatch_size)
        if not checks.is_number(self.lambda_) or not 0 <= self.lambda_ <= 1:
            checks.fail("lambda_", "in [0, 1]", self.lambda_)
        checks.positive("clip_param", self.clip_param)
        checks.positive("vf_clip_param", self.vf_clip_param)
        checks.non_negative("vf_loss_coeff", self.vf_loss_coeff)
        checks.non_negative("entropy_coeff", self.entropy_coeff)
        checks.one_of("use_kl_loss", self.use_kl_loss, (True, False))
        checks.non_negative("kl_coeff", self.kl_coeff)
        checks.positive("kl_target", self.kl_target)
        checks.optional_positive("grad_clip", self.grad_clip)
        checks.hidden_sizes("fcnet_hiddens", self.fcnet_hiddens)
        checks.one_of("fcnet_activation", self.fcnet_activation, ACTIVATIONS)

    def algorithm_config(self):
        """RLlib's `PPOConfig` with these settings; the core adds env, env runners, agents, resources."""
        from ray.rllib.algorithms.ppo import PPOConfig

        from smarts_rl.persisted import PPO, PPOLearner  # pickled into run directories by these names

        return (
            PPOConfig(algo_class=PPO)
            .api_stack(
                enable_rl_module_and_learner=True,
                enable_env_runner_and_connector_v2=True,
            )
            .training(
                learner_class=PPOLearner,
                lr=self.lr,
                gamma=self.gamma,
                train_batch_size=self.train_batch_size,
                num_epochs=self.num_epochs,
                minibatch_size=self.minibatch_size,
                lambda_=self.lambda_,
                clip_param=self.clip_param,
                vf_clip_param=self.vf_clip_param,
                vf_loss_coeff=self.vf_loss_coeff,
                entropy_coeff=self.entropy_coeff,
                use_kl_loss=self.use_kl_loss,
                kl_coeff=self.kl_coeff,
                kl_target=self.kl_target,
                grad_clip=self.grad_clip,
            )
            .rl_module(model_config=mlp_model_config(self))
        )
