"""Timing SMARTS with and without our wrapper, on the same scenario, interface, seeds and actions.

"Raw" is SMARTS's own `HiWayEnvV1` with unformatted observations and actions: the least a
SMARTS user can pay per step. "Wrapped" is `SmartsEnv`, which adds the observation vector,
the reward terms and the info dicts. Both include their resets in the timing and drive the same
episodes (same episode seeds, same actions).

On this kind of shared 2-core machine two identical SMARTS runs differ by 5-10% in speed
(SUMO's process placement, resets), far more than the ~1% our wrapper costs. So the wrapper's
cost is measured from inside our env: the time spent in its `HiWayEnvV1` calls is plain SMARTS's
time on exactly these steps. Plain SMARTS also runs on its own, side by side: both envs live in
one process and take turns every `CHUNK_STEPS` steps (each with its own copy of the global random
generators SMARTS draws from, so taking turns changes nothing either simulates), so both meet the
same machine.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import gymnasium as gym
import numpy as np
from smarts.core import current_seed as smarts_current_seed
from smarts.core import seed as smarts_seed

from smarts_rl.agents import AgentSettings, action_adapter, agent_interface
from smarts_rl.agents.smarts_fixes import apply_runtime_workarounds
from smarts_rl.bench_harness import process_cpu
from smarts_rl.env import SmartsEnv, agent_ids, env_config
from smarts_rl.env.smarts_env import TIMESTEP_S
from smarts_rl.upstream.smarts import bound_point_caches, restore_current_seed, speed_up_simulation

CHUNK_STEPS = 25
WARMUP_STEPS = 100


@dataclass
class Timing:
    episode_lengths: list[int]  # env steps of each episode driven; the last one may be unfinished
    seconds: float  # resets included
    simulator_seconds: float = 0.0
    reset_seconds: list[float] = field(default_factory=list)  # each timed reset's wall time
    warmup_steps: list[int] = field(default_factory=list)  # SMARTS steps each reset took before the first observation

    @property
    def steps(self) -> int:
        return sum(self.episode_lengths)

    @property
    def episodes(self) -> int:
        return len(self.episode_lengths)

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds

    @property
    def mean_reset_s(self) -> float:
        return sum(self.reset_seconds) / len(self.reset_seconds)

    @property
    def warmup_steps_per_reset(self) -> float:
        return sum(self.warmup_steps) / len(self.warmup_steps)

    @property
    def reset_share(self) -> float:
        return sum(self.reset_seconds) / self.seconds

    def __add__(self, other: "Timing") -> "Timing":
        return Timing(self.episode_lengths + other.episode_lengths, self.seconds + other.seconds,
                      self.simulator_seconds + other.simulator_seconds,
                      self.reset_seconds + other.reset_seconds, self.warmup_steps + other.warmup_steps)


@dataclass
class _Side:
    """One env under the timer: `reset(episode seed) -> (active ids, warm-up steps)`,
    `step(actions) -> (active ids, episode over)`."""

    reset: Callable[[int], tuple[list[str], int]]
    step: Callable[[dict], tuple[list[str], bool]]
    close: Callable[[], None]
    actions: Callable[[list[str]], dict]
    simulator_seconds: Callable[[], float] = lambda: 0.0  # time inside SMARTS's own calls, where we see it
    episode_lengths: list[int] = field(default_factory=list)
    seconds: float = 0.0
    active: list[str] = field(default_factory=list)
    global_rngs: tuple | None = None
    simulator_seconds_at_start: float = 0.0
    reset_seconds: list[float] = field(default_factory=list)
    warmup_steps: list[int] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return sum(self.episode_lengths)

    def start(self, seed: int) -> None:
        """Reset once untimed (the road map and SUMO's start are not per-step costs), then start
        the clock with the first episode's reset."""
        self.reset(_episode_seed(seed, 0))
        self.simulator_seconds_at_start = self.simulator_seconds()
        self.seconds, self.episode_lengths = 0.0, [0]
        self.timed_reset(_episode_seed(seed, 0))

    def timed_reset(self, episode_seed: int) -> None:
        start = time.perf_counter()
        self.active, warmup_steps = self.reset(episode_seed)
        elapsed = time.perf_counter() - start
        self.seconds += elapsed
        self.reset_seconds.append(elapsed)
        self.warmup_steps.append(warmup_steps)

    def timing(self) -> Timing:
        return Timing(list(self.episode_lengths), self.seconds,
                      self.simulator_seconds() - self.simulator_seconds_at_start,
                      list(self.reset_seconds), list(self.warmup_steps))


def _episode_seed(seed: int, episode: int) -> int:
    return seed + episode


def _warmup_steps(simulation) -> int:
    """SMARTS steps taken since the reset began: `SMARTS.reset` steps the simulation until an
    ego has an observation (a mission's entry time, a trap waiting for its vehicle)."""
    return round(simulation.elapsed_sim_time / TIMESTEP_S)


def _discrete(settings: AgentSettings) -> bool:
    """Lane actions (action 0 keeps the lane), or continuous controls."""
    return isinstance(action_adapter(settings).action_space(), gym.spaces.Discrete)


def _action_source(settings: AgentSettings, seed: int) -> Callable[[list[str]], dict]:
    """Keep-lane (as action index 0) for the lane adapter, uniform random controls otherwise."""
    rng = np.random.default_rng(seed)
    space = action_adapter(settings).action_space()
    if _discrete(settings):
        return lambda ids: {a: 0 for a in ids}
    return lambda ids: {a: rng.uniform(space.low, space.high).astype(np.float32) for a in ids}


def _wrapped_side(scenario, settings: AgentSettings, num_agents: int, seed: int) -> _Side:
    env = SmartsEnv(env_config(scenario, settings, num_agents=num_agents, seed=seed))

    def reset(episode_seed: int) -> tuple[list[str], int]:
        observations, _ = env.reset(seed=episode_seed)
        return list(observations), _warmup_steps(env.simulation)

    def step(actions: dict) -> tuple[list[str], bool]:
        _, _, terminateds, truncateds, _ = env.step(actions)
        return list(env.agents), terminateds["__all__"] or truncateds["__all__"]

    def simulator_seconds() -> float:
        return env.simulator_seconds

    return _Side(reset, step, env.close, _action_source(settings, seed), simulator_seconds)


def _raw_side(scenario, settings: AgentSettings, num_agents: int, seed: int, patched: bool = True) -> _Side:
    from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1

    # Plain SMARTS, minus the bugs that crash it; `patched`: as fast and as bounded in memory as in
    # our env (the same patches), else as SMARTS ships (patches stay in a process once applied: a
    # fresh one for that).
    apply_runtime_workarounds()
    if patched:
        speed_up_simulation()
        bound_point_caches()
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
    keep_lane = _discrete(settings)

    def reset(episode_seed: int) -> tuple[list[str], int]:
        # The SMARTS seed `SmartsEnv.reset(seed=episode_seed)` draws, so both sides drive the same episode.
        smarts_seed(int(np.random.default_rng([episode_seed, 0]).integers(2**31 - 1)))
        observations, _ = env.reset()
        return list(observations), _warmup_steps(env.smarts)

    def step(actions: dict) -> tuple[list[str], bool]:
        # What a SMARTS user would send: lane action names, or the in-bounds float32 controls as they are.
        if keep_lane:
            actions = {a: "keep_lane" for a in actions}
        observations, _, dones, _, _ = env.step(actions)
        return [a for a in observations if not dones[a]], dones["__all__"]

    return _Side(reset, step, env.close, _action_source(settings, seed))


def _swap_global_rngs(leaving: _Side | None, entering: _Side) -> None:
    if leaving is not None:
        leaving.global_rngs = (random.getstate(), np.random.get_state(), smarts_current_seed())
    if entering.global_rngs is not None:
        python_state, numpy_state, seed = entering.global_rngs
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        restore_current_seed(seed)


def _run_chunk(side: _Side, seed: int, steps: int) -> None:
    for _ in range(steps):
        actions = side.actions(side.active)
        start = time.perf_counter()
        side.active, episode_over = side.step(actions)
        side.seconds += time.perf_counter() - start
        side.episode_lengths[-1] += 1
        if episode_over:
            side.episode_lengths.append(0)
            side.timed_reset(_episode_seed(seed, len(side.episode_lengths) - 1))


def time_side_by_side(scenario, settings: AgentSettings, num_agents: int, seed: int, steps: int) -> tuple[Timing, Timing]:
    """(raw, wrapped) timings of `steps` env steps each.

    Two sessions of `steps / 2`, raw first in one and wrapped first in the other: whichever env
    is made and stepped second runs a few percent faster here. A short untimed session before
    them pays for what the first SMARTS run in a process pays once (imports, caches).
    """
    _session(scenario, settings, num_agents, seed, min(steps, WARMUP_STEPS), raw_first=True)
    first_half = _session(scenario, settings, num_agents, seed, steps // 2, raw_first=True)
    second_half = _session(scenario, settings, num_agents, seed, steps - steps // 2, raw_first=False)
    return first_half[0] + second_half[0], first_half[1] + second_half[1]


def _session(scenario, settings: AgentSettings, num_agents: int, seed: int, steps: int, raw_first: bool) -> tuple[Timing, Timing]:
    """(raw, wrapped) timings of `steps` env steps each, taking turns every `CHUNK_STEPS` steps."""
    makers = [_raw_side, _wrapped_side] if raw_first else [_wrapped_side, _raw_side]
    sides: list[_Side] = []
    try:
        previous = None
        for make in makers:
            side = make(scenario, settings, num_agents, seed)
            sides.append(side)
            _swap_global_rngs(previous, side)
            side.start(seed)
            previous = side
        while any(side.steps < steps for side in sides):
            for side in sides:
                _swap_global_rngs(previous, side)
                _run_chunk(side, seed, min(CHUNK_STEPS, steps - side.steps))
                previous = side
        raw, wrapped = sides if raw_first else reversed(sides)
        return raw.timing(), wrapped.timing()
    finally:
        for side in sides:
            side.close()


def time_raw(scenario, settings: AgentSettings, num_agents: int, seed: int, steps: int) -> Timing:
    """Plain SMARTS alone: `steps` env steps, resets included."""
    side = _raw_side(scenario, settings, num_agents, seed)
    try:
        side.start(seed)
        _run_chunk(side, seed, steps)
        return side.timing()
    finally:
        side.close()


def time_shipped_and_patched(scenario, settings: AgentSettings, num_agents: int, seed: int,
                             steps: int) -> tuple[Timing, Timing]:
    """(shipped, patched) timings of `steps` env steps each: plain SMARTS as it ships and plain
    SMARTS with our speed patches, driving the same episodes.

    The patches are global to a process, so each side is a process of its own; they take turns
    every `CHUNK_STEPS` steps (one waits while the other steps, the side going first alternating),
    so both meet the same machine even when other jobs come and go.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # a fresh SMARTS in each: nothing patched before
    connections, workers = [], []
    try:
        for patched in (False, True):
            ours, theirs = context.Pipe()
            worker = context.Process(target=_take_turns, args=(theirs, scenario, settings, num_agents, seed, patched))
            worker.start()
            connections.append(ours)
            workers.append(worker)
        for connection in connections:
            connection.recv()  # ready: started and warmed up
        done, turn = [0, 0], 0
        while min(done) < steps:
            for side in (turn % 2, 1 - turn % 2):
                chunk = min(CHUNK_STEPS, steps - done[side])
                connections[side].send(chunk)
                connections[side].recv()
                done[side] += chunk
            turn += 1
        timings = []
        for connection in connections:
            connection.send(0)
            timings.append(connection.recv())
        return timings[0], timings[1]
    finally:
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()


def _take_turns(connection, scenario, settings: AgentSettings, num_agents: int, seed: int, patched: bool) -> None:
    """One side of `time_shipped_and_patched`: warm up untimed, then step as many steps as asked
    each time; asked for none, answer with the timing and stop."""
    side = _raw_side(scenario, settings, num_agents, seed, patched)
    try:
        side.start(seed)
        _run_chunk(side, seed, WARMUP_STEPS)
        side.seconds, side.episode_lengths, side.reset_seconds, side.warmup_steps = 0.0, [0], [], []
        connection.send("ready")
        while steps := connection.recv():
            _run_chunk(side, seed, steps)
            connection.send(None)
        connection.send(side.timing())
    finally:
        side.close()


def measure(scenario, settings: AgentSettings, num_agents: int, seed: int, steps: int) -> dict:
    """Our env's steps/s, plain SMARTS's, and the wrapper's share of the cost.

    `raw_steps_per_s` is SMARTS's own time on our env's steps: the same `HiWayEnvV1` calls, timed
    from inside, so `wrapper_overhead` (1 - ours/raw) is exactly what our code adds and not the
    machine's noise. `raw_alone_steps_per_s` is plain SMARTS run on its own, side by side with
    ours: it shows that SMARTS inside our env is as fast as SMARTS alone, within the 5-10% by
    which two identical SMARTS runs differ here.

    The reset figures are our env's: `mean_reset_s` (wall time of one `reset()`),
    `warmup_steps_per_reset` (SMARTS steps each reset took before the first observation) and
    `reset_share` (seconds in resets over all the timed seconds, resets included).
    """
    raw_alone, wrapped = time_side_by_side(scenario, settings, num_agents, seed, steps)
    raw_steps_per_s = wrapped.steps / wrapped.simulator_seconds
    return {
        "steps": steps,
        "episodes": wrapped.episodes,
        "env_steps_per_s": round(wrapped.steps_per_s, 2),
        "raw_steps_per_s": round(raw_steps_per_s, 2),
        "wrapper_overhead": round(1.0 - wrapped.steps_per_s / raw_steps_per_s, 4),
        "raw_alone_steps_per_s": round(raw_alone.steps_per_s, 2),
        "resets": len(wrapped.reset_seconds),
        "mean_reset_s": round(wrapped.mean_reset_s, 4),
        "warmup_steps_per_reset": round(wrapped.warmup_steps_per_reset, 2),
        "reset_share": round(wrapped.reset_share, 4),
    }


def _step_for(scenario, settings: AgentSettings, num_agents: int, seed: int, seconds: float,
              ready, results, patched: bool = True) -> None:
    """One process of `side_by_side_limit`: plain SMARTS stepped for `seconds` once every process
    is ready; it reports its steps, their seconds and when (wall clock) it stepped."""
    import multiprocessing

    # A spawned process spawns its own children too; SMARTS starts some (SumoRoadNetwork's junction
    # check), and spawned they re-import this process's modules: start them as a plain SMARTS script
    # and an env runner do, with the platform's default.
    multiprocessing.set_start_method(None, force=True)
    side = _raw_side(scenario, settings, num_agents, seed, patched)
    try:
        side.start(seed)
        ready.wait(timeout=300)  # a process that failed to start breaks the barrier for all
        side.seconds, side.episode_lengths, side.reset_seconds = 0.0, [0], []
        started = time.time()
        while side.seconds < seconds:
            _run_chunk(side, seed, CHUNK_STEPS)
        results.put({"pid": os.getpid(), "steps": side.steps, "seconds": side.seconds,
                     "start": started, "end": time.time()})
    finally:
        side.close()


def _reports(workers, results, timeout: float) -> list[dict]:
    """Each worker's report; a worker that died without one fails the limit at once."""
    import queue

    reports, deadline = [], time.monotonic() + timeout
    while len(reports) < len(workers):
        try:
            reports.append(results.get(timeout=1.0))
        except queue.Empty:
            failed = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
            if failed or time.monotonic() > deadline:
                raise RuntimeError(f"plain SMARTS side by side: a process failed (exit codes {failed}) or timed out")
    return reports


def side_by_side_limit(scenario, settings: AgentSettings, processes: int, seed: int, seconds: float,
                       patched: bool = True) -> float:
    """Env steps/s of `processes` plain SMARTS processes stepping side by side, summed: what
    this machine can simulate at once, each process with its own `sumo`, as a training with
    that many env runners would. Resets are included; each process drives its own episodes.
    `patched`: with our speed patches (as in our env), else SMARTS as it ships."""
    return limit_with_cpu(scenario, settings, processes, seed, seconds, patched)[0]


def limit_with_cpu(scenario, settings: AgentSettings, processes: int, seed: int, seconds: float,
                   patched: bool = True) -> tuple[float, dict]:
    """`side_by_side_limit`, and the CPU seconds per 1,000 of those steps of each process
    (`process_cpu.cpu_per_1k_steps`: each plain process and the `sumo`s it started, each in the
    window it stepped in; this process, `bench`, waiting, over all of them)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # a fresh SMARTS in each, as in an env runner
    ready, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_step_for,
                        args=(scenario, settings, 1, seed + 1000 * i, seconds, ready, results, patched))
        for i in range(processes)
    ]
    with process_cpu.TreeSampler(os.getpid(), root_kind="bench") as sampler:
        for worker in workers:
            worker.start()
        try:
            reports = _reports(workers, results, timeout=seconds + 300)
        finally:
            for worker in workers:
                worker.join(timeout=60)
                if worker.is_alive():
                    worker.kill()
    windows = {r["pid"]: (r["start"], r["end"]) for r in reports}
    overall = (min(r["start"] for r in reports), max(r["end"] for r in reports))

    def window(process: process_cpu.Process) -> tuple[float, float]:
        return windows.get(process.pid, windows.get(process.ppid, overall))

    cpu = process_cpu.cpu_per_1k_steps(list(sampler.processes.values()), window, sum(r["steps"] for r in reports))
    return sum(r["steps"] / r["seconds"] for r in reports), cpu
