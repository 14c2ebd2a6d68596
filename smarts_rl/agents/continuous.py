"""Continuous control: throttle, brake and steering as one float32 vector."""

import math

import gymnasium as gym
import numpy as np
from smarts.core.controllers import ActionSpaceType

from .observation import SPEED_SCALE

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


# Lane keeping gains, tuned on the built-in loop (35 m bends at the 50 km/h limit): the car
# stays within 0.3 lane widths of the centre there. Positive steering turns right.
HEADING_GAIN = 2.0  # steering per radian of heading error (ego heading left of the lane's: positive)
OFFSET_GAIN = 1.0  # steering per lane width the car is left of the lane centre
CURVATURE_FEEDFORWARD = 0.5  # steering per radian the lane turns in the next ~15 m (left: positive)
SPEED_GAIN = 0.2  # throttle (or brake) per m/s below (above) the speed limit


def keep_lane(obs: np.ndarray) -> np.ndarray:
    """The lane-following baseline: (throttle, brake, steering) that follow the lane centre at the
    speed limit, never changing lanes nor reacting to other vehicles (as SMARTS's keep_lane)."""
    speed, speed_limit = obs[0] * SPEED_SCALE, obs[1] * SPEED_SCALE
    lane_offset, heading_error, curvature = obs[2], obs[3] * math.pi, obs[4] * math.pi / 2
    steering = HEADING_GAIN * heading_error + OFFSET_GAIN * lane_offset - CURVATURE_FEEDFORWARD * curvature
    speed_error = speed_limit - speed
    return np.array(
        [
            np.clip(SPEED_GAIN * speed_error, 0.0, 1.0),
            np.clip(-SPEED_GAIN * speed_error, 0.0, 1.0),
            np.clip(steering, -1.0, 1.0),
        ],
        dtype=np.float32,
    )
