"""The trained agent of an exported package: policy.json and weights/ (written by `export`
next to this folder's files) as a SMARTS agent and its zoo entry point.

In smarts-rl itself this module has nothing to read: only the exported package uses it, through
`entry_point` and `ExportedAgent` in its `__init__.py`.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch
from smarts.core.agent import Agent
from smarts.zoo import registry
from smarts.zoo.agent_spec import AgentSpec

from .interface import action_adapter, agent_interface
from .settings import AgentSettings, DoneSettings, RewardSettings
from .observation import encode
from .policy_network import PolicyNetwork, deterministic_action

PACKAGE_DIR = Path(__file__).resolve().parent
METADATA_FILE = "policy.json"


@functools.cache
def metadata() -> dict:
    """policy.json: the agent settings, each policy network's shape, the action space, provenance."""
    return json.loads((PACKAGE_DIR / METADATA_FILE).read_text())


def locator() -> str:
    """The name SMARTS's zoo knows the agent by: `<package>-v0`."""
    return f"{__package__.rpartition('.')[2]}-v0"


def agent_settings() -> AgentSettings:
    """The agent interface settings the policy was trained with (policy.json's `agent`)."""
    values = dict(metadata()["agent"])
    values["done"] = DoneSettings(**values["done"])
    values["reward"] = RewardSettings(**values["reward"])
    return AgentSettings(**values)


def policy_ids() -> list[str]:
    """`shared` for a policy that drove every agent, else one id per trained agent (agent_0, ...)."""
    return sorted(metadata()["policies"])


def _checked_policy_id(policy_id: str | None) -> str:
    ids = policy_ids()
    if policy_id is None:
        if len(ids) > 1:
            raise ValueError(f"this package holds policies {', '.join(ids)}: pass policy_id=<one of them>")
        return ids[0]
    if policy_id not in ids:
        raise ValueError(f"no policy {policy_id!r} in this package (it holds {', '.join(ids)})")
    return policy_id


class ExportedPolicy:
    """Observation vector → the deterministic action, in the action space the policy trained in."""

    def __init__(self, policy_id: str | None = None):
        self.policy_id = _checked_policy_id(policy_id)
        spec = metadata()["policies"][self.policy_id]
        self.network = PolicyNetwork(spec["obs_dim"], spec["hidden"], spec["activation"], spec["outputs"],
                                     normalize_observations=spec.get("normalize_observations", False))
        self.network.load_state_dict(torch.load(PACKAGE_DIR / spec["weights"], weights_only=True))
        self.network.eval()

    def __call__(self, vector: np.ndarray):
        with torch.no_grad():
            outputs = self.network(torch.as_tensor(vector, dtype=torch.float32)[None])[0].numpy()
        return deterministic_action(outputs, metadata()["action"])


class ExportedAgent(Agent):
    """A SMARTS agent: raw `Observation` in, SMARTS action out (a lane command or controls)."""

    def __init__(self, policy_id: str | None = None):
        self.settings = agent_settings()
        self.policy = ExportedPolicy(policy_id)
        self._adapter = action_adapter(self.settings)

    def observation_vector(self, obs) -> np.ndarray:
        """The 46 features the policy reads (see observation.py)."""
        return encode(obs, self.settings.neighbourhood_radius)

    def act(self, obs, **configs):
        return self._adapter.to_smarts(self.policy(self.observation_vector(obs)), self.policy.policy_id)


def entry_point(policy_id: str | None = None, max_episode_steps: int | None = None, **kwargs) -> AgentSpec:
    """The zoo-style entry point: an AgentSpec whose interface matches the policy's training
    (`max_episode_steps` may differ: it only decides when SMARTS ends the episode)."""
    settings = agent_settings()
    if max_episode_steps is not None:
        settings.max_episode_steps = int(max_episode_steps)
    return AgentSpec(
        interface=agent_interface(settings),
        agent_builder=ExportedAgent,
        agent_params={"policy_id": _checked_policy_id(policy_id)},
    )


def register() -> None:
    """Make `smarts.zoo.registry.make("<package>:<package>-v0")` give `entry_point()`'s AgentSpec."""
    registry.register(locator(), entry_point)
