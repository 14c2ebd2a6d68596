"""An env's memory stays flat over many steps and resets (real SMARTS and SUMO, one process).

A long training run steps each env millions of times: memory that grows by a few MB per 1k steps
is gigabytes by then. Measured on {loop, merge} with random controls (short episodes, a reset
every ~40 steps), RSS after a collection and `malloc_trim`: 5-7 MB per 1k steps while SMARTS kept
every point it converted (smarts_rl.upstream.smarts.bound_point_caches), 0.2-0.4 once bounded."""

import ctypes
import gc
from pathlib import Path

import numpy as np
import psutil
import pytest

from smarts_rl.agents import AgentSettings
from smarts_rl.env import SmartsEnv, env_config
from smarts_rl.scenarios.build import Settings, build_scenario, scenario_source

WARMUP_RESETS = 30  # the first episodes of each scenario fill caches that then stay the same size
MEASURED_STEPS = 1200
MAX_GROWTH_MB_PER_1K_STEPS = 2.0


def resident_mb() -> float:
    """This process's RSS once freed memory is back with the system (glibc keeps freed pages otherwise)."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return psutil.Process().memory_info().rss / 2**20


@pytest.mark.slow
# SMARTS warns at every reset; pytest would keep each warning for the test's report.
@pytest.mark.filterwarnings("ignore:path is deprecated")
def test_memory_stays_flat_over_many_short_episodes_on_a_set():
    scenarios = {name: build_scenario(scenario_source(Settings(name=name), cwd=Path("/")))
                 for name in ("loop", "merge")}
    env = SmartsEnv(env_config(scenarios, AgentSettings(name="continuous", max_episode_steps=100), seed=0))
    rng = np.random.default_rng(0)
    space = env.action_spaces["agent_0"]
    resets, measured_resets, measured_steps, start_mb = 0, 0, 0, None
    try:
        env.reset(seed=0)
        while measured_steps < MEASURED_STEPS:
            actions = {a: rng.uniform(space.low, space.high).astype(np.float32) for a in env.agents}
            _, _, terminateds, truncateds, _ = env.step(actions)
            if start_mb is not None:
                measured_steps += 1
            if terminateds["__all__"] or truncateds["__all__"]:
                env.reset()
                resets += 1
                measured_resets += start_mb is not None
                if resets == WARMUP_RESETS:
                    start_mb = resident_mb()
        end_mb = resident_mb()
    finally:
        env.close()
    growth = (end_mb - start_mb) / measured_steps * 1000
    assert measured_resets >= 20, "short episodes: resets are part of what is measured"
    assert growth <= MAX_GROWTH_MB_PER_1K_STEPS, (
        f"{growth:.2f} MB per 1k env steps ({start_mb:.1f} -> {end_mb:.1f} MB over {measured_steps} steps, "
        f"{measured_resets} resets)")
