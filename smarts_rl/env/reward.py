"""Reward shaping on top of SMARTS's own reward (metres travelled along the route)."""

from __future__ import annotations

from smarts_rl.agents import RewardSettings


def shaped_reward(settings: RewardSettings, smarts_reward: float, obs) -> float:
    """SMARTS reward times `progress`, plus the configured event terms for this step."""
    events = obs.events
    reward = settings.progress * float(smarts_reward)
    if events.collisions:
        reward += settings.collision
    if events.off_road:
        reward += settings.off_road
    if events.off_route:
        reward += settings.off_route
    if events.reached_goal:
        reward += settings.goal
    if settings.over_speed_limit and obs.waypoint_paths:
        path = obs.waypoint_paths[0]
        if path:
            excess = float(obs.ego_vehicle_state.speed) - float(path[0].speed_limit)
            if excess > 0.0:
                reward += settings.over_speed_limit * excess
    return reward
