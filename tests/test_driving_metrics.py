"""Per-mission training metrics: which missions are split out, and how many."""

from ray.rllib.utils.metrics.metrics_logger import MetricsLogger

from smarts_rl.env.driving_metrics import MAX_MISSIONS, DrivingMetrics, mission_key


def test_mission_keys_are_tensorboard_names_and_routes_without_goal_have_none():
    assert mission_key("east_in -> south_out") == "east_in_to_south_out"
    assert mission_key(":junction#1 -> out") == "_junction_1_to_out"
    assert mission_key("west -> anywhere") is None


def test_missions_past_the_cap_are_not_split_out():
    callback, logger = DrivingMetrics(), MetricsLogger()
    for i in range(MAX_MISSIONS + 2):
        callback._log_mission(logger, {"mission": f"road{i} -> goal{i}", "reached_goal": i % 2 == 0}, float(i))
    callback._log_mission(logger, {"mission": "road0 -> goal0", "reached_goal": True}, 4.0)
    callback._log_mission(logger, {"mission": "road9 -> anywhere", "reached_goal": False}, 1.0)

    missions = logger.reduce()["driving"]["mission"]
    assert sorted(missions) == sorted(f"road{i}_to_goal{i}" for i in range(MAX_MISSIONS))
    assert missions["road0_to_goal0"]["return"] == 2.0  # mean of 0 and 4
    assert missions["road0_to_goal0"]["reached_goal_rate"] == 1.0
    assert missions["road1_to_goal1"]["reached_goal_rate"] == 0.0
