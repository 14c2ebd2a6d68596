"""Driving metrics from the env's per-agent `info`, logged by every env runner under `driving/`.

They land in each training result as `env_runners/driving/<name>`, averaged over the last
episodes (one sample per agent per episode). Each mission of the scenario also gets
`env_runners/driving/mission/<start road>_to_<goal road>/{return,reached_goal_rate}`: SMARTS rotates
a scenario's missions over episodes, and a mission the policy fails should show in the curves
rather than hide in the mean (RLlib 2.60 reports NaN for a mission or scenario with no episode
ending in the iteration). And each scenario of the run's set gets the whole run's figures under
`env_runners/driving/scenario/<name>/` (`return`, the rates, `distance_travelled`, `mean_speed`).

Those means span the last episodes, over several iterations. `env_runners/driving/this_iter/`
counts the iteration's own agent episodes (`episodes`) and their outcomes (`reached_goal`, ...):
the console's goal and collision rates.
"""

from __future__ import annotations

import re

from ray.rllib.callbacks.callbacks import RLlibCallback

from smarts_rl.env.smarts_env import OUTCOMES, TIMESTEP_S

WINDOW = 100
THIS_ITER = ("driving", "this_iter")
# Random routes would make a new mission of every start road; past this many, no more are split out.
MAX_MISSIONS = 8


def mission_key(mission: str) -> str | None:
    """The env's '<start road> -> <goal road>' as a metric key, or None for a route without a goal.

    TensorBoard takes only letters, digits and `_.-` in a name; other characters become `_`."""
    start, _, goal = mission.partition(" -> ")
    if goal == "anywhere":
        return None
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", f"{start}_to_{goal}")


class DrivingMetrics(RLlibCallback):
    def __init__(self):
        super().__init__()
        self._missions: set[str] = set()

    def on_episode_end(self, *, episode, metrics_logger=None, **kwargs) -> None:
        if metrics_logger is None:
            return
        for agent_episode in episode.agent_episodes.values():
            if len(agent_episode) == 0:
                continue
            info = agent_episode.get_infos(-1)
            # A "sum" is the iteration's: reset each time the env runner reports.
            metrics_logger.log_value((*THIS_ITER, "episodes"), 1, reduce="sum")
            for outcome in OUTCOMES:
                metrics_logger.log_value((*THIS_ITER, outcome), int(info[outcome]), reduce="sum")
            figures = {f"{outcome}_rate": float(info[outcome]) for outcome in OUTCOMES}
            distance = float(info["distance_travelled"])
            figures["distance_travelled"] = distance
            figures["mean_speed"] = distance / (len(agent_episode) * TIMESTEP_S)
            for name, value in figures.items():
                metrics_logger.log_value(("driving", name), value, reduce="mean", window=WINDOW)
            if "scenario" in info:
                figures["return"] = float(agent_episode.get_return())
                for name, value in figures.items():
                    metrics_logger.log_value(("driving", "scenario", info["scenario"], name), value,
                                             reduce="mean", window=WINDOW)
            self._log_mission(metrics_logger, info, agent_episode.get_return())

    def _log_mission(self, metrics_logger, info: dict, episode_return: float) -> None:
        key = mission_key(info.get("mission", ""))
        if key is None or (key not in self._missions and len(self._missions) >= MAX_MISSIONS):
            return
        self._missions.add(key)
        metrics_logger.log_value(("driving", "mission", key, "return"), float(episode_return),
                                 reduce="mean", window=WINDOW)
        metrics_logger.log_value(("driving", "mission", key, "reached_goal_rate"), float(info["reached_goal"]),
                                 reduce="mean", window=WINDOW)
