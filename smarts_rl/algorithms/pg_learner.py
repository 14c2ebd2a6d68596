"""The PG learner: discounted reward-to-go, optional value baseline, REINFORCE loss.

Data flow per training batch (episodes -> train batch -> loss):
1. With `baseline=value`, every episode (chunk) gets one artificial timestep at
   its end (RLlib's `AddOneTsToEpisodesAndTruncate`), so a single value forward
   pass also yields V(s_last) of truncated episodes, masked out of the loss.
2. `RewardToGo` (appended after RLlib's default pipeline, so the batch is built)
   adds the discounted reward-to-go (`value_targets`) and the raw advantages
   (reward-to-go minus V(s), or just the reward-to-go without a baseline; with
   `lambda_` < 1, GAE(lambda) on the TD errors r + gamma V(s') - V(s)).
3. `PGTorchLearner.compute_loss_for_module` optionally normalises the advantages
   and returns  -mean(logp(a|s) * A) - entropy_coeff * H + vf_loss_coeff * vf_loss.
4. The policy takes exactly one gradient step on that batch. The value function
   (its own network and Adam optimizer) takes `vf_iters` steps on the same
   targets, as in SpinningUp's VPG: a baseline that lags far behind the returns
   removes little variance, and fitting V harder does not make the policy step
   any less "vanilla".
"""

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.learner import AddOneTsToEpisodesAndTruncate
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.utils.numpy import convert_to_numpy
from ray.rllib.utils.torch_utils import explained_variance

from smarts_rl.upstream.rllib import (
    BatchUpdateHooks, LrFromConfig, is_value_parameter, learner_connector, set_gradients,
)

ADVANTAGES = Postprocessing.ADVANTAGES  # "advantages"
VALUE_TARGETS = Postprocessing.VALUE_TARGETS  # "value_targets": the reward-to-go


def discounted_returns(
    rewards: Sequence[float], gamma: float, bootstrap_value: float = 0.0
) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1} for t = T-1..0, starting from G_T = bootstrap_value."""
    returns = np.empty(len(rewards), dtype=np.float32)
    running = float(bootstrap_value)
    for t in range(len(rewards) - 1, -1, -1):
        running = float(rewards[t]) + gamma * running
        returns[t] = running
    return returns


class RewardToGo(ConnectorV2):
    """Learner connector adding `value_targets` (reward-to-go) and `advantages`.

    A terminated episode's return ends at 0. A truncated one (time limit, or cut
    off by the sampler) is bootstrapped with V(s_last) when there is a value
    baseline; without one there is nothing better than 0.
    """

    def __init__(
        self,
        input_observation_space=None,
        input_action_space=None,
        *,
        gamma: float,
        value_baseline: bool,
        lambda_: float = 1.0,
    ):
        super().__init__(input_observation_space, input_action_space)
        self.gamma = gamma
        self.value_baseline = value_baseline
        self.lambda_ = lambda_

    def __call__(self, *, rl_module, episodes, batch: Dict[str, Any], **kwargs):
        # Rows of each module's batch follow this episode order (RLlib's default
        # learner connectors add them in the same iteration order).
        sa_episodes = list(
            self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False)
        )
        for module_id, module_batch in batch.items():
            module_episodes = [e for e in sa_episodes if e.module_id in (None, module_id)]
            rewards_tensor = module_batch[Columns.REWARDS]
            rewards = convert_to_numpy(rewards_tensor)
            values = self._values(rl_module[module_id], module_batch, len(rewards))
            returns = self._returns(module_episodes, rewards, values, module_id)
            if self.lambda_ < 1.0:
                advantages = self._gae(module_episodes, rewards, values)
            else:
                advantages = returns - values
            as_tensor = lambda x: torch.as_tensor(x, device=rewards_tensor.device)
            module_batch[VALUE_TARGETS] = as_tensor(returns)
            module_batch[ADVANTAGES] = as_tensor(advantages)
        return batch

    def _values(self, module, module_batch, n: int) -> np.ndarray:
        if not self.value_baseline:
            return np.zeros(n, dtype=np.float32)
        module = module.unwrapped()
        if not isinstance(module, ValueFunctionAPI):
            raise ValueError(
                f"baseline=value needs an RLModule implementing ValueFunctionAPI, "
                f"got {type(module).__name__}"
            )
        with torch.no_grad():
            return convert_to_numpy(module.compute_values(module_batch)).astype(np.float32)

    def _returns(
        self, episodes: List, rewards: np.ndarray, values: np.ndarray, module_id
    ) -> np.ndarray:
        returns = np.zeros_like(values)
        start = 0
        for episode in episodes:
            end = start + len(episode)
            if self.value_baseline:
                # The last slot is the artificial one: its value is V(s_last).
                last = end - 1
                bootstrap = 0.0 if episode.is_terminated else values[last]
                returns[start:last] = discounted_returns(
                    rewards[start:last], self.gamma, bootstrap
                )
                returns[last] = values[last]  # masked out of the loss
            else:
                returns[start:end] = discounted_returns(rewards[start:end], self.gamma)
            start = end
        if start != len(rewards):
            raise ValueError(
                f"Module {module_id!r}: episodes cover {start} rows but the batch has "
                f"{len(rewards)}; recurrent (zero-padded) modules are not supported by PG."
            )
        return returns


    def _gae(self, episodes: List, rewards: np.ndarray, values: np.ndarray) -> np.ndarray:
        """GAE(lambda): A_t = sum_k (gamma lambda)^k delta_{t+k}, delta_t = r_t + gamma V(s_{t+1}) - V(s_t),
        with V after a termination 0 (needs the value baseline's artificial last slots)."""
        advantages = np.zeros_like(values)
        start = 0
        for episode in episodes:
            last = start + len(episode) - 1
            next_values = values[start + 1 : last + 1].copy()
            if episode.is_terminated:
                next_values[-1] = 0.0
            deltas = rewards[start:last] + self.gamma * next_values - values[start:last]
            advantages[start:last] = discounted_returns(deltas, self.gamma * self.lambda_)
            start = last + 1
        return advantages


def _masked_mean(mask: Optional[torch.Tensor]):
    if mask is None:
        return torch.mean
    num_valid = torch.clamp(mask.sum(), min=1)
    return lambda x: torch.sum(x[mask]) / num_valid


class PGTorchLearner(LrFromConfig, BatchUpdateHooks, TorchLearner):
    """REINFORCE with reward-to-go, an optional learned value baseline, one step per batch."""

    def build(self) -> None:
        super().build()
        connector = learner_connector(self)
        if connector is not None and self.config.add_default_connectors_to_learner_pipeline:
            value_baseline = self.config.baseline == "value"
            if value_baseline:
                connector.prepend(AddOneTsToEpisodesAndTruncate())
            connector.append(
                RewardToGo(gamma=self.config.gamma, value_baseline=value_baseline, lambda_=self.config.lambda_)
            )

    def after_gradient_based_update(self, *, timesteps: Dict[str, Any]) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        # The next weight sync carries the new ceiling (a module buffer) to the env runners.
        for module_id in self.module.keys():
            module = self.module[module_id].unwrapped()
            if getattr(module, "has_log_std_max", False):
                module.set_log_std_max(self._lr_schedule_timestep)
                self.metrics.log_value((module_id, "log_std_max"), float(module.log_std_max), window=1)

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        named = list(self.module[module_id].named_parameters())
        policy_params = [p for n, p in named if not is_value_parameter(n)]
        value_params = [p for n, p in named if is_value_parameter(n)]
        # Separate optimizers, so that extra value steps leave the policy's Adam
        # moments alone and gradient clipping is per network.
        optimized = {"policy": policy_params}
        if config.baseline == "value" and value_params:
            optimized["value"] = value_params
        for name, params in optimized.items():
            self.register_optimizer(
                module_id=module_id,
                optimizer_name=name,
                optimizer=torch.optim.Adam(params),
                params=params,
                lr_or_lr_schedule=config.lr,
            )

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        module = self.module[module_id].unwrapped()
        mask = batch.get(Columns.LOSS_MASK)
        mean = _masked_mean(mask)

        action_dist = module.get_train_action_dist_cls().from_logits(
            fwd_out[Columns.ACTION_DIST_INPUTS]
        )
        logp = action_dist.logp(batch[Columns.ACTIONS])
        raw_advantages = batch[ADVANTAGES]
        advantages = raw_advantages
        if config.normalize_advantages:
            centred = raw_advantages - mean(raw_advantages)
            advantages = centred / (torch.sqrt(mean(centred**2)) + 1e-8)

        policy_loss = -mean(logp * advantages.detach())
        entropy = mean(action_dist.entropy())
        total_loss = policy_loss - config.entropy_coeff * entropy

        metrics = {
            "policy_loss": policy_loss,
            "policy_entropy": entropy,
            "advantages_mean": mean(raw_advantages),
            "advantages_std": torch.sqrt(mean((raw_advantages - mean(raw_advantages)) ** 2)),
            "returns_mean": mean(batch[VALUE_TARGETS]),
        }
        if config.baseline == "value":
            values = module.compute_values(batch, embeddings=fwd_out.get(Columns.EMBEDDINGS))
            vf_loss = mean((values - batch[VALUE_TARGETS]) ** 2)
            total_loss = total_loss + config.vf_loss_coeff * vf_loss
            metrics["vf_loss"] = vf_loss
            real = slice(None) if mask is None else mask
            metrics["vf_explained_var"] = explained_variance(
                batch[VALUE_TARGETS][real], values[real]
            )

        # window=1: these describe this one batch, not a running average.
        self.metrics.log_dict(metrics, key=module_id, window=1)
        return total_loss

    def before_batch_update(self, batch) -> None:
        """Modules that standardise their observations take in this batch's (real) ones first."""
        for module_id, module_batch in batch.items():
            module = self.module[module_id].unwrapped()
            if getattr(module, "normalizes_observations", False):
                observations = module_batch[Columns.OBS]
                mask = module_batch.get(Columns.LOSS_MASK)
                module.update_observation_stats(observations if mask is None else observations[mask])

    def after_batch_update(self, batch) -> None:
        # The update took the policy's step and the value function's first.
        if self.config.baseline == "value":
            for _ in range(self.config.vf_iters - 1):
                self._value_step(batch)

    def _value_step(self, batch) -> None:
        losses = {}
        for module_id, module_batch in batch.items():
            module = self.module[module_id].unwrapped()
            config = self.config.get_config_for_module(module_id)
            mean = _masked_mean(module_batch.get(Columns.LOSS_MASK))
            values = module.compute_values(module_batch)
            losses[module_id] = config.vf_loss_coeff * mean(
                (values - module_batch[VALUE_TARGETS]) ** 2
            )
        set_gradients(self, self.postprocess_gradients(self.compute_gradients(losses)))
        for module_id in batch.keys():
            for name, optimizer in self.get_optimizers_for_module(module_id):
                if name == "value":
                    optimizer.step()
