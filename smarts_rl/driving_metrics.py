"""Driving metrics from the env's per-agent `info`, logged by every env runner under `driving/`.

They land in each training result as `env_runners/driving/<name>`, averaged over the last
episodes (one sample per agent per episode).
"""

from __future__ import annotations

from ray.rllib.callbacks.callbacks import RLlibCallback

from smarts_rl.env.smarts_env import TIMESTEP_S

WINDOW = 100
OUTCOMES = ("collision", "off_road", "off_route", "reached_goal")


class DrivingMetrics(RLlibCallback):
    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        if metrics_logger is None:
            return
        for agent_episode in episode.agent_episodes.values():
            if len(agent_episode) == 0:
                continue
            info = agent_episode.get_infos(-1)
            for outcome in OUTCOMES:
                metrics_logger.log_value(
                    ("driving", f"{outcome}_rate"), float(info[outcome]), reduce="mean", window=WINDOW
                )
            distance = float(info["distance_travelled"])
            metrics_logger.log_value(("driving", "distance_travelled"), distance, reduce="mean", window=WINDOW)
            metrics_logger.log_value(
                ("driving", "mean_speed"), distance / (len(agent_episode) * TIMESTEP_S),
                reduce="mean", window=WINDOW,
            )
