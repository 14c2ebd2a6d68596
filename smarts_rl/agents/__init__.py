"""The `agent` config group, and everything a trained agent needs to drive in SMARTS.

`conf/agent/<name>.yaml` is validated by `AgentSettings` (`settings.py`); its `name` names its
action adapter: a module of this package (`laner` is `smarts_rl/agents/laner.py`) or, dotted, any
importable module (the contract: `interface.action_adapter`), found with the SMARTS agent interface
by `interface.py`. Beside them: the observation encoder (`observation.py`), the policy network in
plain torch (`policy_network.py`), the SMARTS fixes they need (`smarts_fixes.py`) and the exported
agent (`exported_agent.py`). This module gathers the names the rest of smarts-rl imports.

Why one folder: it is a SMARTS agent as SMARTS's zoo knows one (interface, observation and
action adapters, policy), and `export` ships it as it is, as the trained agent's package. So it
imports no Ray and nothing of smarts-rl outside itself (its modules import each other
relatively; tests/test_export.py checks both), and smarts-rl's env, algorithms and evaluation
import these same files rather than copies.

In an exported package (a policy.json next to this file) `entry_point` and `ExportedAgent` are
the trained agent, and importing the package registers it with SMARTS's zoo as `<package>-v0`.
"""

from __future__ import annotations

from pathlib import Path

from .interface import action_adapter, agent_interface
from .settings import AgentSettings, DoneSettings, RewardSettings

__all__ = ["AgentSettings", "DoneSettings", "RewardSettings", "action_adapter", "agent_interface"]


def __getattr__(name: str):
    # The exported agent loads torch and SMARTS: only when asked for, so that importing the
    # config schema stays quick.
    if name in ("entry_point", "ExportedAgent", "ExportedPolicy"):
        from . import exported_agent

        return getattr(exported_agent, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if (Path(__file__).parent / "policy.json").exists():  # an exported package
    from .exported_agent import register

    register()
