"""The `agent` config group, and everything a trained agent needs to drive in SMARTS.

`conf/agent/<name>.yaml` is validated by `AgentSettings`; its `name` names its action adapter: a
module of this package (`laner` is `smarts_rl/agents/laner.py`) or, dotted, any importable module
(`my_package.my_adapter`). An action adapter is the contract an agent interface meets:
- `ACTION_SPACE_TYPE`: SMARTS's `ActionSpaceType` it drives with;
- `action_space()`: the gymnasium space the policy acts in (float32 `Box` or `Discrete`);
- `to_smarts(action, agent_id)`: a policy's action as SMARTS takes it (in bounds, float32);
- `keep_lane(obs)`: the lane-following baseline's action for an observation vector;
- optionally `ACTION_NAMES`: the names of a continuous action's components. Beside them: the observation encoder (`observation.py`), the
policy network in plain torch (`policy_network.py`), the SMARTS fixes they need
(`smarts_fixes.py`) and the exported agent (`exported_agent.py`).

Why one folder: it is a SMARTS agent as SMARTS's zoo knows one (interface, observation and
action adapters, policy), and `export` ships it as it is, as the trained agent's package. So it
imports no Ray and nothing of smarts-rl outside itself (its modules import each other
relatively; tests/test_export.py checks both), and smarts-rl's env, algorithms and evaluation
import these same files rather than copies.

In an exported package (a policy.json next to this file) `entry_point` and `ExportedAgent` are
the trained agent, and importing the package registers it with SMARTS's zoo as `<package>-v0`.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from .smarts_fixes import smarts_max_episode_steps

if TYPE_CHECKING:
    from smarts.core.agent_interface import AgentInterface



@dataclass
class DoneSettings:
    """Events that end an agent's episode (SMARTS `DoneCriteria`)."""

    collision: bool = True
    """End on a collision with another vehicle."""
    off_road: bool = True
    """End when the vehicle leaves the road."""
    off_route: bool = True
    """End when the vehicle leaves its mission route."""
    on_shoulder: bool = False
    """End when the vehicle drives on the road shoulder."""
    wrong_way: bool = False
    """End when the vehicle drives against the lane direction."""
    not_moving: bool = False
    """End when the vehicle has not moved for a while."""


@dataclass
class RewardSettings:
    """Reward = progress * metres travelled along the route + the event terms below."""

    progress: float = 1.0
    """Weight on SMARTS's reward: metres travelled along the route in the step."""
    collision: float = -50.0
    """Added on the step the vehicle collides."""
    off_road: float = -10.0
    """Added on the step the vehicle leaves the road."""
    off_route: float = -5.0
    """Added on the step the vehicle leaves its route."""
    goal: float = 50.0
    """Added on the step the vehicle reaches its mission goal."""
    over_speed_limit: float = -0.1
    """Per step, times the m/s by which the vehicle exceeds the lane's speed limit."""
    close_following: float = 0.0
    """Per step, times how far below 3 s the time-to-collision with the vehicle ahead is (0 to 1)."""
    heading_error: float = 0.0
    """Per step, times the angle between the ego's heading and its route's lane, / pi (0 to 1)."""


@dataclass
class AgentSettings:
    """Schema of `conf/agent/*.yaml`."""

    name: str = "laner"
    """Action adapter: `laner` (discrete lane actions), `continuous` (throttle, brake, steering), or
    a module of yours (`my_package.my_adapter`)."""
    max_episode_steps: int = 300
    """Truncate an agent's episode after this many steps (0.1 s each)."""
    neighbourhood_radius: float = 50.0
    """Metres within which other vehicles are observed."""
    waypoints_lookahead: int = 30
    """Waypoints (about 1 m apart) observed ahead along each lane."""
    done: DoneSettings = field(default_factory=DoneSettings)
    """Which events end the episode."""
    reward: RewardSettings = field(default_factory=RewardSettings)
    """Reward shaping terms."""

    def __post_init__(self):
        if not isinstance(self.name, str) or not _adapter_exists(_adapter_module(self.name)):
            raise ValueError(
                f"agent.name={self.name!r}: no action adapter module {_adapter_module(str(self.name))} "
                "(a module of smarts_rl/agents/, or a dotted module path of your own)"
            )
        if self.max_episode_steps < 1:
            raise ValueError(f"agent.max_episode_steps must be >= 1, got {self.max_episode_steps}")
        if self.neighbourhood_radius <= 0:
            raise ValueError(
                f"agent.neighbourhood_radius must be > 0, got {self.neighbourhood_radius}"
            )
        if self.waypoints_lookahead < 2:
            raise ValueError(
                f"agent.waypoints_lookahead must be >= 2, got {self.waypoints_lookahead}"
            )


def _adapter_module(name: str) -> str:
    """A bare name is a module of this package (also when it ships as an exported agent)."""
    return name if "." in name else f"{__name__}.{name}"


def _adapter_exists(module: str) -> bool:
    # Found without importing it: adapters import SMARTS, which the config schema must not load.
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def action_adapter(settings: AgentSettings) -> ModuleType:
    """The module that defines this agent's action space and its translation for SMARTS."""
    return importlib.import_module(_adapter_module(settings.name))


def agent_interface(settings: AgentSettings) -> AgentInterface:
    """The SMARTS `AgentInterface` with exactly the sensors our observation encoder reads."""
    # SMARTS is imported here, not at the top: the config schema above must not load it.
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


def __getattr__(name: str):
    # The exported agent loads torch and SMARTS: only when asked for, so that the config schema
    # above stays quick to import.
    if name in ("entry_point", "ExportedAgent", "ExportedPolicy"):
        from . import exported_agent

        return getattr(exported_agent, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if (Path(__file__).parent / "policy.json").exists():  # an exported package
    from .exported_agent import register

    register()
