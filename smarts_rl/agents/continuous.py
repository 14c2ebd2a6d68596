"""Continuous control: throttle, brake and steering as one float32 vector."""

import gymnasium as gym
import numpy as np
from smarts.core.controllers import ActionSpaceType

ACTION_SPACE_TYPE = ActionSpaceType.Continuous
ACTION_NAMES = ("throttle", "brake", "steering")
LOW = np.array([0.0, 0.0, -1.0], dtype=np.float32)
HIGH = np.array([1.0, 1.0, 1.0], dtype=np.float32)


def action_space() -> gym.spaces.Box:
    """(throttle in [0, 1], brake in [0, 1], steering in [-1, 1])."""
    return gym.spaces.Box(LOW, HIGH, dtype=np.float32)


def to_smarts(action, agent_id: str) -> np.ndarray:
    """Clip into bounds: a Gaussian policy samples outside them, and SMARTS asserts on that."""
    action = np.asarray(action, dtype=np.float32)
    if action.shape != LOW.shape or not np.all(np.isfinite(action)):
        raise ValueError(
            f"{agent_id}: continuous action must be 3 finite floats "
            f"(throttle, brake, steering), got {action!r}"
        )
    return np.clip(action, LOW, HIGH)
