"""Timing SMARTS with and without our wrapper, on the same scenario, interface, seeds and actions.

"Raw" is SMARTS's own `HiWayEnvV1` with unformatted observations and actions: the least a
SMARTS user can pay per step. "Wrapped" is `SmartsEnv`, which adds the observation vector,
the reward terms and the info dicts. Both loops include their resets in the timing, and
drive the same episodes (same episode seeds, same actions).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from smarts.core import seed as smarts_seed

from smarts_rl.agents import AgentSettings, action_adapter, agent_interface
from smarts_rl.env import SmartsEnv, agent_ids, env_config
from smarts_rl.env.smarts_env import TIMESTEP_S
from smarts_rl.workarounds import apply_runtime_workarounds


@dataclass
class Timing:
    steps: int
    episodes: int
    seconds: float

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds


def _actions(settings: AgentSettings, rng: np.random.Generator, ids) -> dict:
    """Keep-lane for the lane adapter, uniform random controls otherwise."""
    if settings.name == "laner":
        return {a: 0 for a in ids}
    space = action_adapter(settings).action_space()
    return {a: rng.uniform(space.low, space.high).astype(np.float32) for a in ids}


def time_wrapped(scenario, settings: AgentSettings, num_agents: int, seed: int, steps: int) -> Timing:
    env = SmartsEnv(env_config(scenario, settings, num_agents=num_agents, seed=seed))
    rng = np.random.default_rng(seed)
    try:
        env.reset(seed=seed)  # warm-up: road map and SUMO start are not per-step costs
        episodes, start = 1, time.perf_counter()
        env.reset(seed=seed)
        for _ in range(steps):
            _, _, terminateds, truncateds, _ = env.step(_actions(settings, rng, env.agents))
            if terminateds["__all__"] or truncateds["__all__"]:
                env.reset()
                episodes += 1
        return Timing(steps, episodes, time.perf_counter() - start)
    finally:
        env.close()


def time_raw(scenario, settings: AgentSettings, num_agents: int, seed: int, steps: int) -> Timing:
    from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1

    apply_runtime_workarounds()  # plain SMARTS, minus the bugs that crash it
    interface = agent_interface(settings)
    env = HiWayEnvV1(
        scenarios=[str(scenario)],
        agent_interfaces={a: interface for a in agent_ids(num_agents)},
        headless=True,
        seed=seed,
        fixed_timestep_sec=TIMESTEP_S,
        observation_options="unformatted",
        action_options="unformatted",
    )
    rng = np.random.default_rng(seed)
    keep_lane = settings.name == "laner"
    episode_rng = None

    def reset(reseed: bool = False) -> list[str]:
        # The same episode seeds `SmartsEnv.reset` draws, so both loops drive the same episodes.
        nonlocal episode_rng
        if reseed:
            episode_rng = np.random.default_rng([seed, 0])
        smarts_seed(int(episode_rng.integers(2**31 - 1)))
        observations, _ = env.reset()
        return list(observations)

    try:
        reset(reseed=True)
        episodes, start = 1, time.perf_counter()
        active = reset(reseed=True)
        for _ in range(steps):
            actions = _actions(settings, rng, active)
            if keep_lane:
                actions = {a: "keep_lane" for a in actions}
            observations, _, dones, _, _ = env.step(actions)
            active = [a for a in observations if not dones[a]]
            if dones["__all__"]:
                active = reset()
                episodes += 1
        return Timing(steps, episodes, time.perf_counter() - start)
    finally:
        env.close()


def measure(scenario, settings: AgentSettings, num_agents: int, seed: int, steps: int, rounds: int = 2) -> dict:
    """Wrapped and raw steps/s and the wrapper's share of the cost.

    Rounds alternate raw and wrapped runs and each side keeps its best round: on a busy
    machine, the best of a few runs is the closest to the code's own cost.
    """
    raw, wrapped = [], []
    for _ in range(rounds):
        raw.append(time_raw(scenario, settings, num_agents, seed, steps))
        wrapped.append(time_wrapped(scenario, settings, num_agents, seed, steps))
    best_raw = max(raw, key=lambda t: t.steps_per_s)
    best_wrapped = max(wrapped, key=lambda t: t.steps_per_s)
    return {
        "steps": steps,
        "episodes": best_wrapped.episodes,
        "env_steps_per_s": round(best_wrapped.steps_per_s, 2),
        "raw_steps_per_s": round(best_raw.steps_per_s, 2),
        "wrapper_overhead": round(1.0 - best_wrapped.steps_per_s / best_raw.steps_per_s, 4),
    }
