"""What drives the ego vehicles in an evaluation: the trained policy and two baselines.

Every policy maps one agent's observation vector (`smarts_rl.agents.observation`) to an action in
the env's action space, and is told the episode's seed at reset (the random baseline draws
from it, so every run of an evaluation is the same).

- `TrainedPolicy`: the RLModules of an RLlib checkpoint, acting deterministically (the most
  likely discrete action, the mean of a Gaussian) or, with `sample=True`, sampling its actions
  as it did in training (seeded by the episode seed), with the action post-processing that the
  checkpoint's env runner applied in training (RLlib unsquashes continuous actions from
  [-1, 1] into the action space's bounds by default). `sample_dims` restricts the sampling
  to some components of a continuous action, the others taking the mean.
- `RandomPolicy`: uniformly random actions from the action space.
- `KeepLanePolicy`: the agent's action adapter's `keep_lane`: SMARTS's own keep_lane for the
  laner agent; for the continuous agent, which SMARTS has no such behaviour for, a plain
  feedback controller on the same observation vector (`smarts_rl.agents.continuous.keep_lane`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import gymnasium as gym
import numpy as np

from smarts_rl.agents import AgentSettings, action_adapter
from smarts_rl.agents import observation
from smarts_rl.env.policy_mapping import module_mapping
from smarts_rl.errors import UsageError
from smarts_rl.upstream.rllib import ACTION_CONNECTOR, checkpoint_action_postprocessing, checkpoint_modules


class Policy:
    name: str

    def reset(self, seed: int) -> None:
        """A new episode, whose seed the policy may draw from."""

    def act(self, agent_id: str, obs: np.ndarray):
        raise NotImplementedError


class RandomPolicy(Policy):
    name = "random"

    def __init__(self, action_space: gym.Space):
        self._space = action_space
        self._rng = np.random.default_rng(0)

    def reset(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def act(self, agent_id: str, obs: np.ndarray):
        if isinstance(self._space, gym.spaces.Discrete):
            return int(self._space.start + self._rng.integers(self._space.n))
        low, high = self._space.low, self._space.high
        return self._rng.uniform(low, high).astype(self._space.dtype)


class KeepLanePolicy(Policy):
    name = "keep_lane"

    def __init__(self, agent: AgentSettings):
        self._adapter = action_adapter(agent)

    def act(self, agent_id: str, obs: np.ndarray):
        return self._adapter.keep_lane(obs)


class TrainedPolicy(Policy):
    name = "policy"

    def __init__(self, modules: dict, module_of: Callable[[str], str], action_space: gym.Space,
                 normalize_actions: bool, clip_actions: bool, sample: bool = False,
                 sample_dims: Optional[list[int]] = None):
        self.modules = modules
        self.module_of = module_of
        self._space = action_space
        self._normalize, self._clip = normalize_actions, clip_actions
        self.sample = sample
        self._sample_dims = sample_dims

    def reset(self, seed: int) -> None:
        if self.sample:
            import torch

            # RLlib's action distributions draw from torch's global generator.
            torch.manual_seed(seed)

    def act(self, agent_id: str, obs: np.ndarray):
        return self.actions(self.module_of(agent_id), obs[None])[0]

    def actions(self, module_id: str, observations: np.ndarray) -> list:
        """Env actions of one module for a batch of observation vectors."""
        import torch
        from ray.rllib.core.columns import Columns
        from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action

        module = self.modules[module_id]
        with torch.no_grad():
            out = module.forward_inference({Columns.OBS: torch.as_tensor(observations, dtype=torch.float32)})
            dist = module.get_inference_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
            raw = (dist if self.sample else dist.to_deterministic()).sample().numpy()
            if self.sample and self._sample_dims is not None:
                sampled, raw = raw, dist.to_deterministic().sample().numpy()
                raw[:, self._sample_dims] = sampled[:, self._sample_dims]
        # What RLlib's NormalizeAndClipActions connector does between module and env.
        if self._normalize:
            return [unsquash_action(a, self._space) for a in raw]
        if self._clip:
            return [clip_action(a, self._space) for a in raw]
        return list(raw)


def load_trained_policy(checkpoint: Path, agent: AgentSettings, agents_policy: str, agent_ids: list[str],
                        sample: bool = False, sample_dims: Optional[list[int]] = None) -> TrainedPolicy:
    """The checkpoint's policy for these agents, checked against the agent interface they use."""
    modules = load_modules(checkpoint)
    check_spaces(modules, agent, checkpoint)
    module_of = module_mapping(agents_policy)
    missing = sorted({module_of(a) for a in agent_ids} - set(modules))
    if missing:
        raise UsageError(
            f"agents.count={len(agent_ids)}: the run trained agents.policy={agents_policy} with policies "
            f"{', '.join(sorted(modules))}, and there is no policy {', '.join(missing)} for the other agents; "
            f"evaluate with at most {len(modules)} agent(s), or use a run trained with agents.policy=shared"
        )
    normalize, clip = action_postprocessing(checkpoint)
    return TrainedPolicy(modules, module_of, action_adapter(agent).action_space(), normalize, clip, sample,
                         sample_dims)


def load_modules(checkpoint: Path) -> dict:
    """module id → the torch RLModule, from an RLlib algorithm checkpoint (no Ray session needed).
    A run made before the promised names (smarts_rl/persisted.py) is migrated to them first."""
    from smarts_rl.migrate import migrate_run_of

    migrate_run_of(checkpoint)
    modules = checkpoint_modules(checkpoint)
    for module in modules.values():
        module.eval()
    return modules


def check_spaces(modules: dict, agent: AgentSettings, checkpoint: Path) -> None:
    """Each module must read our observation vector and act in this agent interface's action space."""
    want_obs, want_action = observation.observation_space(), action_adapter(agent).action_space()
    for module_id, module in sorted(modules.items()):
        if module.action_space != want_action:
            raise UsageError(
                f"checkpoint={checkpoint}: policy {module_id} acts in {module.action_space}, but agent={agent.name} "
                f"acts in {want_action}: the checkpoint was trained with another agent interface than this run's"
            )
        if module.observation_space != want_obs:
            raise UsageError(
                f"checkpoint={checkpoint}: policy {module_id} reads observations {module.observation_space}, but "
                f"smarts_rl encodes {want_obs}: the checkpoint comes from another version of the observation encoder"
            )


def action_postprocessing(checkpoint: Path) -> tuple[bool, bool]:
    """(normalize_actions, clip_actions) of the env runner that sampled for this checkpoint."""
    found = checkpoint_action_postprocessing(checkpoint)
    if found is None:
        raise UsageError(f"checkpoint={checkpoint}: not an RLlib algorithm checkpoint (no {ACTION_CONNECTOR})")
    return found
