"""The speed patches (`speed_up_simulation()`) leave SMARTS's episodes exactly as they were: plain
SMARTS as it ships and SMARTS with the patches, each in a fresh process, drive the same seeded
episodes with the same actions, and every observation and every vehicle's state is the same, to
the last bit, at every step."""

import dataclasses
import enum
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from smarts_rl.agents import AgentSettings, action_adapter, agent_interface
from smarts_rl.scenarios.build import Settings, build_scenario, scenario_source

REPO = Path(__file__).resolve().parent.parent
STEPS = 300
EPISODE_STEPS = 120  # a reset at least this often, so that resets are compared too
SKIPPED_FIELDS = {"mission"}  # the ego's route plan: an object graph, fixed by the scenario


def _plain(value):
    """`value` as nested tuples of Python numbers and strings, so that `repr` compares it exactly."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, _plain(value.tolist()))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (bool, int, str, type(None))):
        return value
    if isinstance(value, float):  # also SMARTS's Heading, a float
        return float(value)
    if dataclasses.is_dataclass(value):
        return tuple((f.name, _plain(getattr(value, f.name))) for f in dataclasses.fields(value)
                     if f.name not in SKIPPED_FIELDS)
    if hasattr(value, "_fields"):  # NamedTuple
        return tuple((name, _plain(getattr(value, name))) for name in value._fields if name not in SKIPPED_FIELDS)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _plain(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return tuple(sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items)
    return type(value).__name__


def record_episodes(scenario: str, agent: str, patched: bool, seed: int = 7) -> list[str]:
    """Each step's observations, rewards, dones and every vehicle's state (traffic and ego), as
    exact text, over `STEPS` steps of plain SMARTS (with our patches if `patched`); resets after
    an episode's end or `EPISODE_STEPS` steps, each episode with its own SMARTS seed."""
    from smarts.core import seed as smarts_seed
    from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1

    from smarts_rl.agents.smarts_fixes import apply_runtime_workarounds
    from smarts_rl.upstream.smarts import speed_up_simulation

    apply_runtime_workarounds()  # the fixes an exported agent drives with: on both sides
    if patched:
        speed_up_simulation()
    settings = AgentSettings(name=agent)
    space = action_adapter(settings).action_space()
    discrete = not hasattr(space, "low")
    rng = np.random.default_rng(seed)
    env = HiWayEnvV1(scenarios=[scenario], agent_interfaces={"agent_0": agent_interface(settings)}, headless=True,
                     seed=seed, fixed_timestep_sec=0.1, observation_options="unformatted",
                     action_options="unformatted")
    records, episode = [], 0

    def reset():
        smarts_seed(seed + episode)
        observations, _ = env.reset()
        records.append(repr(("reset", _plain(observations), _vehicles(env))))
        return observations

    try:
        observations, steps_in_episode = reset(), 0
        for _ in range(STEPS):
            if discrete:
                actions = {a: "keep_lane" for a in observations}
            else:
                actions = {a: rng.uniform(space.low, space.high).astype(np.float32) for a in observations}
            observations, rewards, terminated, truncated, _ = env.step(actions)
            steps_in_episode += 1
            records.append(repr(("step", _plain(observations), _plain(rewards), _plain(terminated),
                                 _plain(truncated), _vehicles(env))))
            if terminated["__all__"] or truncated["__all__"] or steps_in_episode >= EPISODE_STEPS:
                episode += 1
                observations, steps_in_episode = reset(), 0
    finally:
        env.close()
    return records


def _vehicles(env) -> tuple:
    return tuple(sorted((v.id, _plain(v.position), float(v.heading), float(v.speed), _plain(v.pose.orientation))
                        for v in env.smarts.vehicle_index.vehicles))


def _in_fresh_process(*args) -> list[str]:
    """`record_episodes(*args)` in a new Python process: the patches are global to a process."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(record_episodes, args)


def test_the_scan_answers_every_window_as_the_rtree_does(tmp_path):
    import random

    import rtree
    from smarts.core.sumo_road_network import SumoRoadNetwork
    from smarts.sstudio.sstypes import MapSpec

    from smarts_rl.upstream.smarts import SCAN_LIMIT, _ScannedIndex

    rng = random.Random(0)
    indexes = []
    for name in ("loop", "intersection"):
        folder = build_scenario(scenario_source(Settings(name=name), cwd=REPO), tmp_path / "cache")
        road_map = SumoRoadNetwork.from_spec(MapSpec(str(folder)))
        road_map.nearest_roads((0.0, 0.0), 1.0)
        indexes.append(_ScannedIndex(road_map._rtree_roads.index if isinstance(road_map._rtree_roads, _ScannedIndex)
                                     else road_map._rtree_roads))
        for edge in road_map._graph.getEdges():
            for sumo_lane in edge.getLanes():
                shape = sumo_lane.getShape(False)
                index = rtree.index.Index()
                for i, (s, e) in enumerate(zip(shape, shape[1:])):
                    index.add(i, (min(s[0], e[0]), min(s[1], e[1]), max(s[0], e[0]), max(s[1], e[1])))
                indexes.append(_ScannedIndex(index))
    big = rtree.index.Index()  # beyond the scan's limit: deeper trees, answered by the rtree
    for i in range(3 * SCAN_LIMIT):
        x, y = rng.uniform(-300, 300), rng.uniform(-300, 300)
        big.add(i, (x, y, x + rng.uniform(0, 30), y + rng.uniform(0, 30)))
    indexes.append(_ScannedIndex(big))
    windows = []
    for _ in range(300):
        x, y, r = rng.uniform(-300, 300), rng.uniform(-300, 300), rng.uniform(0.5, 40)
        windows.append((x - r, y - r, x + r, y + r))
    for scanned in indexes:
        for window in windows:
            assert list(scanned.intersection(window)) == list(scanned.index.intersection(window))
    grown = indexes[0]
    box = (-5.0, -5.0, 5.0, 5.0)
    before = list(grown.intersection(box))
    grown.add(0, box)  # as SMARTS adds a road it meets: the scan reads the tree again
    assert list(grown.intersection(box)) == list(grown.index.intersection(box)) == before + [0]
    with pytest.raises(rtree.exceptions.RTreeError):
        grown.intersection((1.0, 0.0, 0.0, 1.0))  # an inverted window is still the rtree's error


@pytest.mark.parametrize("scenario, agent", [("loop", "laner"), ("merge", "continuous")])
def test_patched_smarts_drives_exactly_the_episodes_of_plain_smarts(scenario, agent, tmp_path):
    built = str(build_scenario(scenario_source(Settings(name=scenario), cwd=REPO), tmp_path / "cache"))
    plain = _in_fresh_process(built, agent, False)
    patched = _in_fresh_process(built, agent, True)
    assert sum(r.startswith("('reset'") for r in plain) >= 3, "resets are compared too"
    # `interest` is a field of a neighbour's state only.
    assert max(r.count("('interest',") for r in plain) >= 2, "the ego sees traffic to compare"
    for step, (expected, got) in enumerate(zip(plain, patched)):
        assert got == expected, f"step {step} differs"
    assert len(patched) == len(plain)
