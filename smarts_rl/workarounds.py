"""Workarounds for bugs in SMARTS 2.0.1, one function per bug, each shown by a test in
`tests/test_workarounds.py`."""

from __future__ import annotations


def ego_yaw_rate(ego) -> float:
    """SMARTS 2.0.1's `EgoVehicleObservation.yaw_rate` is not the yaw rate: it reads about
    3*pi/2 rad/s (4.71) at reset and stays near it while the heading barely changes. The
    z component of `angular_velocity` is the real yaw rate."""
    angular_velocity = ego.angular_velocity
    return float(angular_velocity[2]) if angular_velocity is not None else 0.0


def smarts_max_episode_steps(steps: int) -> int:
    """SMARTS 2.0.1 counts the reset observation as a completed step (`steps_completed` is 1
    after `reset()`), so an interface with `max_episode_steps=n` ends the episode after n - 1
    actions. Asking SMARTS for one more gives the agent exactly n actions."""
    return steps + 1
