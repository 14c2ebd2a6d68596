"""Running evaluation episodes and summarising them per agent-episode."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np

from smarts_rl.env.smarts_env import OUTCOMES, TIMESTEP_S


@dataclass
class AgentEpisode:
    """One agent's part of one episode."""

    seed: int
    agent_id: str
    mission: str
    episode_return: float
    steps: int
    distance: float
    collision: bool
    off_road: bool
    off_route: bool
    reached_goal: bool

    @property
    def mean_speed(self) -> float:
        """Metres per second over the agent's steps: what training logs as `driving/mean_speed`."""
        return self.distance / (self.steps * TIMESTEP_S) if self.steps else 0.0


def run_episode(env, policy, seed: int, watch: Optional[Callable] = None, realtime: bool = False) -> list[AgentEpisode]:
    """One episode of `policy` driving every agent of `env` (a `SmartsEnv`).

    `watch(env, step, returns, infos)` is called after the reset and after every step;
    `realtime` makes each step last at least one simulated step of wall time (for viewers).
    """
    obs, infos = env.reset(seed=seed)
    policy.reset(seed)
    returns, steps, last_info = defaultdict(float), defaultdict(int), dict(infos)
    if watch:
        watch(env, 0, returns, last_info)
    step, started = 0, time.monotonic()
    while True:
        actions = {agent_id: policy.act(agent_id, obs[agent_id]) for agent_id in env.agents}
        obs, rewards, terminateds, truncateds, infos = env.step(actions)
        step += 1
        for agent_id, reward in rewards.items():
            returns[agent_id] += float(reward)
        for agent_id in actions:
            steps[agent_id] += 1
        last_info.update(infos)
        if watch:
            watch(env, step, returns, last_info)
        if realtime:
            time.sleep(max(0.0, started + step * TIMESTEP_S - time.monotonic()))
        if terminateds["__all__"] or truncateds["__all__"]:
            break
    return [
        AgentEpisode(
            seed=seed,
            agent_id=agent_id,
            mission=str(info["mission"]),
            episode_return=returns[agent_id],
            steps=steps[agent_id],
            distance=float(info["distance_travelled"]),
            **{outcome: bool(info[outcome]) for outcome in OUTCOMES},
        )
        for agent_id, info in sorted(last_info.items())
    ]


def summarize(agent_episodes: list[AgentEpisode], episodes: int) -> dict:
    """The figures eval.json reports for one policy; rates are per agent-episode."""
    summary = {**_figures(agent_episodes), "episodes": episodes}
    # A scenario's missions can differ in kind (a straight crossing, a left turn across traffic):
    # the overall mean hides a policy that masters one and fails the other.
    summary["per_mission"] = {
        mission: _figures([e for e in agent_episodes if e.mission == mission])
        for mission in sorted({e.mission for e in agent_episodes})
    }
    summary["per_agent_episode"] = [
        {**asdict(e), "mean_speed": e.mean_speed} for e in agent_episodes
    ]
    return summary


def _figures(agent_episodes: list[AgentEpisode]) -> dict:
    returns = np.array([e.episode_return for e in agent_episodes], dtype=float)
    return {
        "episode_return_mean": float(returns.mean()),
        "episode_return_std": float(returns.std()),
        **{f"{outcome}_rate": float(np.mean([getattr(e, outcome) for e in agent_episodes])) for outcome in OUTCOMES},
        "mean_speed": float(np.mean([e.mean_speed for e in agent_episodes])),
        "mean_steps": float(np.mean([e.steps for e in agent_episodes])),
        "agent_episodes": len(agent_episodes),
    }
