"""The `agent` config group's schema: `conf/agent/<name>.yaml` is validated by `AgentSettings`
(an exported agent reads the same settings back from its policy.json)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field


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
        if not isinstance(self.name, str) or not _adapter_exists(adapter_module(self.name)):
            raise ValueError(
                f"agent.name={self.name!r}: no action adapter module {adapter_module(str(self.name))} "
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


def adapter_module(name: str) -> str:
    """An action adapter's module: a bare name is a module of this package (also when it ships as
    an exported agent), a dotted one any importable module."""
    return name if "." in name else f"{__package__}.{name}"


def _adapter_exists(module: str) -> bool:
    # Found without importing it: adapters import SMARTS, which the config schema must not load.
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
