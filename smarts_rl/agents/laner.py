"""Discrete lane actions: SMARTS drives along the lane; the policy picks the manoeuvre."""

import gymnasium as gym
import numpy as np
from smarts.core.controllers import ActionSpaceType

ACTION_SPACE_TYPE = ActionSpaceType.Lane
ACTIONS = ("keep_lane", "slow_down", "change_lane_left", "change_lane_right")
KEEP_LANE = 0


def action_space() -> gym.spaces.Discrete:
    return gym.spaces.Discrete(len(ACTIONS))


def to_smarts(action, agent_id: str) -> str:
    """An integer in [0, 4) → SMARTS's lane command; anything else is a caller bug."""
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise ValueError(
            f"{agent_id}: lane action must be an integer in [0, {len(ACTIONS) - 1}], "
            f"got {action!r}"
        )
    if not 0 <= action < len(ACTIONS):
        raise ValueError(
            f"{agent_id}: lane action must be an integer in [0, {len(ACTIONS) - 1}], got {action}"
        )
    return ACTIONS[action]


def keep_lane(obs) -> int:
    """The lane-following baseline: SMARTS's own keep_lane."""
    return KEEP_LANE
