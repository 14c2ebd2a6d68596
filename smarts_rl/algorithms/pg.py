"""Policy Gradient (REINFORCE with reward-to-go) on RLlib's new API stack.

`algo=pg` in the training driver. What one training iteration does:
sample at least `train_batch_size` env steps (complete episodes by default),
compute each step's discounted reward-to-go (bootstrapping truncated episodes
with V(s_last) when `baseline=value`) and advantage (reward-to-go minus V(s), or
with `lambda_` < 1 GAE(lambda) as in SpinningUp's VPG), take ONE policy gradient step on
-mean(logp(a|s) * advantage) [- entropy bonus] (and `vf_iters` steps fitting
V(s) to the reward-to-go), sync weights.
The RLlib classes (config and algorithm) live in `pg_algorithm.py`, the learner and the
returns computation in `pg_learner.py`; this module is the config group's schema and imports
Ray only when a run asks for the algorithm (so that `train.py --help` and bad input answer at once).

The RLModule is RLlib's default actor-critic MLP (separate policy and value
networks) with a chosen initial spread of continuous actions
(`actor_critic_module.py`); with `baseline=none` its value head is simply never trained.
"""

from dataclasses import dataclass, field
from typing import Any, List, Optional

from smarts_rl.algorithms import ACTIVATIONS, checks, mlp_model_config
from smarts_rl.algorithms.contract import Algorithm

BASELINES = ("none", "value")
BATCH_MODES = ("complete_episodes", "truncate_episodes")


@dataclass
class Settings(Algorithm):
    """`conf/algo/pg.yaml`. Names match RLlib AlgorithmConfig attributes (PBT mutates by name)."""

    name: str = "pg"

    # Adam learning rate, or a schedule [[env_step, lr], ...] (linear in between, first step 0).
    lr: Any = 0.001
    # Discount factor of the reward-to-go.
    gamma: float = 0.99
    # GAE lambda of the advantage: 1.0 is reward-to-go minus V(s); below 1 (needs baseline=value)
    # each action is credited more with what follows it closely, less with the episode's far end.
    lambda_: float = 1.0
    # Env steps per gradient step (at least this many; complete episodes overshoot a little).
    train_batch_size: int = 1000
    # Subtracted from the reward-to-go: "none", or "value" (a learned V(s), also bootstraps truncations).
    baseline: str = "value"
    # Standardise the advantages per batch and module (mean 0, std 1) before the policy loss.
    normalize_advantages: bool = True
    # Weight of the entropy bonus (0 disables it).
    entropy_coeff: float = 0.0
    # Weight of the value-function MSE in the loss (only with baseline=value).
    vf_loss_coeff: float = 1.0
    # Gradient steps of the value function per batch (the policy always takes exactly one).
    vf_iters: int = 10
    # Clip the global gradient norm to this value (null disables clipping).
    grad_clip: Optional[float] = 0.5
    # "complete_episodes" (true Monte-Carlo returns) or "truncate_episodes" (needs baseline=value).
    batch_mode: str = "complete_episodes"
    # Hidden layer sizes of the policy network (the value network gets the same).
    fcnet_hiddens: List[int] = field(default_factory=lambda: [64, 64])
    # Activation of the hidden layers.
    fcnet_activation: str = "tanh"
    # Continuous actions: initial log std of the Gaussian, in RLlib's [-1, 1] action range (null: ~0).
    log_std_init: Optional[float] = -1.0
    # Continuous actions: ceiling on that log std, a number or [[env_step, log std], ...] (null: none).
    log_std_max: Any = field(default_factory=lambda: [[0, -1.0], [120_000, -1.0], [170_000, -1.5]])
    # Standardise each observation feature by its running mean and std (clipped to +-10), as SB3's VecNormalize.
    normalize_observations: bool = False

    def __post_init__(self):
        self.lr = checks.lr_or_schedule("lr", self.lr)
        checks.discount("gamma", self.gamma)
        if not checks.is_number(self.lambda_) or not 0 <= self.lambda_ <= 1:
            checks.fail("lambda_", "in [0, 1]", self.lambda_)
        checks.at_least_one("train_batch_size", self.train_batch_size)
        checks.one_of("baseline", self.baseline, BASELINES)
        checks.one_of("normalize_advantages", self.normalize_advantages, (True, False))
        checks.non_negative("entropy_coeff", self.entropy_coeff)
        checks.non_negative("vf_loss_coeff", self.vf_loss_coeff)
        checks.at_least_one("vf_iters", self.vf_iters)
        checks.optional_positive("grad_clip", self.grad_clip)
        checks.one_of("batch_mode", self.batch_mode, BATCH_MODES)
        if self.batch_mode == "truncate_episodes" and self.baseline != "value":
            checks.fail(
                "batch_mode",
                "complete_episodes when algo.baseline=none (a cut-off episode "
                "needs V(s) to bootstrap its return)",
                self.batch_mode,
            )
        if self.lambda_ < 1 and self.baseline != "value":
            checks.fail("lambda_", "1.0 when algo.baseline=none (GAE needs V(s))", self.lambda_)
        checks.hidden_sizes("fcnet_hiddens", self.fcnet_hiddens)
        checks.one_of("fcnet_activation", self.fcnet_activation, ACTIVATIONS)
        if self.log_std_init is not None and not checks.is_number(self.log_std_init):
            checks.fail("log_std_init", "a number or null", self.log_std_init)
        if self.log_std_max is not None:
            self.log_std_max = checks.number_or_schedule("log_std_max", self.log_std_max)
        checks.one_of("normalize_observations", self.normalize_observations, (True, False))

    def algorithm_config(self):
        """A `PGConfig` with these settings; the core adds env, env runners, agents, resources."""
        from smarts_rl.algorithms.actor_critic_module import LOG_STD_INIT, LOG_STD_MAX, NORMALIZE_OBSERVATIONS
        from smarts_rl.persisted import PGConfig  # pickled into run directories by this name

        return (
            PGConfig()
            .api_stack(
                enable_rl_module_and_learner=True,
                enable_env_runner_and_connector_v2=True,
            )
            .training(
                lr=self.lr,
                gamma=self.gamma,
                lambda_=self.lambda_,
                train_batch_size=self.train_batch_size,
                grad_clip=self.grad_clip,
                baseline=self.baseline,
                normalize_advantages=self.normalize_advantages,
                entropy_coeff=self.entropy_coeff,
                vf_loss_coeff=self.vf_loss_coeff,
                vf_iters=self.vf_iters,
            )
            # batch_mode is a sampling setting but decides what a return means here.
            .env_runners(batch_mode=self.batch_mode)
            .rl_module(model_config={
                **mlp_model_config(self),
                LOG_STD_INIT: self.log_std_init,
                LOG_STD_MAX: self.log_std_max,
                NORMALIZE_OBSERVATIONS: self.normalize_observations,
            })
        )
