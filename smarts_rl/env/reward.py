"""Reward shaping on top of SMARTS's own reward (metres travelled along the route)."""

from __future__ import annotations

import numpy as np

from smarts_rl.agents import RewardSettings
from smarts_rl.agents.observation import FEATURES, TTC_HORIZON_S

OWN_AHEAD_TTC = FEATURES.index("own_ahead_ttc")
HEADING_ERROR = FEATURES.index("heading_error")
# Closing in on the vehicle ahead with less than this many seconds to collision is penalised.
CLOSE_FOLLOWING_TTC_S = 3.0


def shaped_reward(settings: RewardSettings, smarts_reward: float, obs, features: np.ndarray) -> float:
    """SMARTS reward times `progress`, plus the configured terms for this step.

    `features` is the observation vector we give the policy for `obs`.
    """
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
    if settings.close_following:
        ttc_s = float(features[OWN_AHEAD_TTC]) * TTC_HORIZON_S
        if ttc_s < CLOSE_FOLLOWING_TTC_S:
            reward += settings.close_following * (1.0 - ttc_s / CLOSE_FOLLOWING_TTC_S)
    if settings.heading_error:
        # The lane features follow the route through junctions, so this pulls the car round a
        # turn step by step; `off_route` alone comes too late to tell a half turn from none.
        reward += settings.heading_error * abs(float(features[HEADING_ERROR]))
    return reward
