"""Which policy (RLModule) drives which agent, as `agents.policy` says: one `shared` by all
agents, or each agent its own (named as the agent). Training sets it as RLlib's policy mapping;
evaluation loads a checkpoint's policies by it."""

from __future__ import annotations

SHARED_POLICY = "shared"


def shared_policy(agent_id, episode=None, **kwargs) -> str:
    return SHARED_POLICY


def own_policy(agent_id, episode=None, **kwargs) -> str:
    return agent_id


def module_mapping(agents_policy: str):
    """`agents.policy` as RLlib's policy mapping: agent id -> the id of the module that drives it."""
    return shared_policy if agents_policy == "shared" else own_policy
