"""The observation: one fixed-size float32 vector per agent, the same layout on every scenario.

Every feature is scaled to roughly [-1, 1] and clipped into it. "Ego frame" means x forward
along the ego's heading and y to its left. SMARTS numbers lanes from the right (index 0).

| index | feature | meaning, scaling |
|---|---|---|
| 0 | speed | ego speed / 30 m/s |
| 1 | speed_limit | speed limit of the ego's lane / 30 m/s |
| 2 | lane_offset | lateral offset from the lane centre / lane width (left positive) |
| 3 | heading_error | ego heading minus lane heading / pi |
| 4 | lane_curvature | lane heading ~15 m ahead minus lane heading here / (pi/2) |
| 5 | lane_left | 1 if there is a lane to the left, else 0 |
| 6 | lane_right | 1 if there is a lane to the right, else 0 |
| 7 | steering | ego steering angle / (pi/4) |
| 8 | yaw_rate | ego yaw rate / pi rad/s |
| 9-26 | lane slots | for own, left, right lane x ahead, behind: gap, time-to-collision, relative speed |
| 27-41 | nearest vehicles | 3 nearest vehicles in any lane: present, x, y, vx, vy (ego frame) |
| 42-45 | goal | has_goal, distance to goal / 200 m, sin and cos of the goal's bearing (ego frame) |

Lane slots: gap is bumper-to-bumper distance / neighbourhood radius (1 = nobody there);
time-to-collision is seconds until the gap closes at the current speeds / 10 s (1 = not
closing or nobody there); relative speed is (their speed - ego speed) / 30 m/s. Nearest
vehicles: positions / neighbourhood radius, velocities / 30 m/s, all zero when absent.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

from .smarts_fixes import ego_yaw_rate

SPEED_SCALE = 30.0
TTC_HORIZON_S = 10.0
GOAL_SCALE_M = 200.0
CURVATURE_LOOKAHEAD = 15
NEAREST = 3
LANE_SLOTS = ("own_ahead", "own_behind", "left_ahead", "left_behind", "right_ahead", "right_behind")

FEATURES = (
    ["speed", "speed_limit", "lane_offset", "heading_error", "lane_curvature"]
    + ["lane_left", "lane_right", "steering", "yaw_rate"]
    + [f"{slot}_{f}" for slot in LANE_SLOTS for f in ("gap", "ttc", "rel_speed")]
    + [f"nearest{i}_{f}" for i in range(NEAREST) for f in ("present", "x", "y", "vx", "vy")]
    + ["has_goal", "goal_distance", "goal_bearing_sin", "goal_bearing_cos"]
)
OBS_DIM = len(FEATURES)
EMPTY_SLOT = (1.0, 1.0, 0.0)
# Lane offset (left +1, right -1) and direction (ahead, behind) → index of the slot's gap feature.
_SLOT_INDEX = {(0, True): 9, (0, False): 12, (1, True): 15, (1, False): 18, (-1, True): 21, (-1, False): 24}


def observation_space() -> gym.spaces.Box:
    return gym.spaces.Box(-1.0, 1.0, shape=(OBS_DIM,), dtype=np.float32)


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def encode(obs, radius: float) -> np.ndarray:
    """SMARTS `Observation` → the feature vector documented above."""
    ego = obs.ego_vehicle_state
    x0, y0 = float(ego.position[0]), float(ego.position[1])
    heading = float(ego.heading)
    # SMARTS headings are counter-clockwise from north: forward = (-sin h, cos h).
    fx, fy = -math.sin(heading), math.cos(heading)
    speed = float(ego.speed)
    ego_half_length = float(ego.bounding_box.length) / 2.0

    paths = obs.waypoint_paths or []
    own_path = next((p for p in paths if p and p[0].lane_index == ego.lane_index), None)
    if own_path is None and paths:
        own_path = min(paths, key=lambda p: abs(p[0].lane_index - ego.lane_index) if p else 1e9)
    if own_path:
        wp = own_path[0]
        ahead = own_path[min(CURVATURE_LOOKAHEAD, len(own_path) - 1)]
        speed_limit = float(wp.speed_limit)
        lane_width = float(wp.lane_width) or 3.2
        heading_error = _wrap(heading - float(wp.heading))
        curvature = _wrap(float(ahead.heading) - float(wp.heading))
    else:
        speed_limit, lane_width, heading_error, curvature = 0.0, 3.2, 0.0, 0.0
    lane_indices = {p[0].lane_index for p in paths if p}
    lane_offset = float(ego.lane_position.t) if ego.lane_position is not None else 0.0

    features = [
        speed / SPEED_SCALE,
        speed_limit / SPEED_SCALE,
        lane_offset / lane_width,
        heading_error / math.pi,
        curvature / (math.pi / 2.0),
        1.0 if ego.lane_index + 1 in lane_indices else 0.0,
        1.0 if ego.lane_index - 1 in lane_indices else 0.0,
        float(ego.steering or 0.0) / (math.pi / 4.0),
        ego_yaw_rate(ego) / math.pi,
    ]
    features.extend(EMPTY_SLOT * len(LANE_SLOTS))
    features.extend([0.0] * (5 * NEAREST))

    # Which lane (relative to ours) a neighbour's lane id is, as far as our waypoints reach.
    lane_of = {}
    for path in paths:
        for wp in path:
            lane_of.setdefault(wp.lane_id, wp.lane_index - ego.lane_index)

    nearest = []
    for nv in obs.neighborhood_vehicle_states or ():
        dx, dy = float(nv.position[0]) - x0, float(nv.position[1]) - y0
        forward, left = dx * fx + dy * fy, -dx * fy + dy * fx
        distance = math.hypot(dx, dy)
        nv_heading = float(nv.heading)
        nv_speed = float(nv.speed)
        vx = -math.sin(nv_heading) * nv_speed
        vy = math.cos(nv_heading) * nv_speed
        rel_vx = vx * fx + vy * fy - speed
        rel_vy = -vx * fy + vy * fx
        nearest.append((distance, forward, left, rel_vx, rel_vy))

        if nv.road_id == ego.road_id:
            lane = nv.lane_index - ego.lane_index
        else:
            lane = lane_of.get(nv.lane_id)
        slot = _SLOT_INDEX.get((lane, forward >= 0.0))
        if slot is None:
            continue
        gap = max(distance - ego_half_length - float(nv.bounding_box.length) / 2.0, 0.0)
        if gap / radius >= features[slot]:
            continue  # a closer vehicle already fills this slot
        closing = (speed - nv_speed) if forward >= 0.0 else (nv_speed - speed)
        ttc = gap / closing if closing > 1e-3 else math.inf
        features[slot] = gap / radius
        features[slot + 1] = min(ttc / TTC_HORIZON_S, 1.0)
        features[slot + 2] = (nv_speed - speed) / SPEED_SCALE

    nearest.sort()
    for i, (_, forward, left, rel_vx, rel_vy) in enumerate(nearest[:NEAREST]):
        base = 27 + 5 * i
        features[base : base + 5] = (
            1.0,
            forward / radius,
            left / radius,
            rel_vx / SPEED_SCALE,
            rel_vy / SPEED_SCALE,
        )

    goal_position = getattr(ego.mission.goal, "position", None) if ego.mission else None
    if goal_position is not None:
        gx, gy = float(goal_position[0]) - x0, float(goal_position[1]) - y0
        goal_distance = math.hypot(gx, gy)
        bearing = math.atan2(-gx * fy + gy * fx, gx * fx + gy * fy)
        features.extend((1.0, goal_distance / GOAL_SCALE_M, math.sin(bearing), math.cos(bearing)))
    else:
        features.extend((0.0, 0.0, 0.0, 0.0))

    vector = np.asarray(features, dtype=np.float32)
    np.clip(vector, -1.0, 1.0, out=vector)
    return vector
