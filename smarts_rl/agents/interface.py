"""What an agent's settings make in SMARTS: its action adapter and its `AgentInterface`."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from .settings import AgentSettings, adapter_module
from .smarts_fixes import smarts_max_episode_steps

if TYPE_CHECKING:
    from smarts.core.agent_interface import AgentInterface


def action_adapter(settings: AgentSettings) -> ModuleType:
    """The module that defines this agent's action space and its translation for SMARTS.

    An action adapter is the contract an agent interface meets:
    - `ACTION_SPACE_TYPE`: SMARTS's `ActionSpaceType` it drives with;
    - `action_space()`: the gymnasium space the policy acts in (float32 `Box` or `Discrete`);
    - `to_smarts(action, agent_id)`: a policy's action as SMARTS takes it (in bounds, float32);
    - `keep_lane(obs)`: the lane-following baseline's action for an observation vector;
    - optionally `ACTION_NAMES`: the names of a continuous action's components."""
    return importlib.import_module(adapter_module(settings.name))


def agent_interface(settings: AgentSettings) -> AgentInterface:
    """The SMARTS `AgentInterface` with exactly the sensors our observation encoder reads."""
    # SMARTS is imported here, not at the top: importing the config schema must not load it.
    from smarts.core.agent_interface import AgentInterface, DoneCriteria, NeighborhoodVehicles, Waypoints

    return AgentInterface(
        action=action_adapter(settings).ACTION_SPACE_TYPE,
        max_episode_steps=smarts_max_episode_steps(settings.max_episode_steps),
        neighborhood_vehicle_states=NeighborhoodVehicles(radius=settings.neighbourhood_radius),
        waypoint_paths=Waypoints(lookahead=settings.waypoints_lookahead),
        done_criteria=DoneCriteria(**vars(settings.done)),
        lane_positions=True,
        accelerometer=False,
    )
