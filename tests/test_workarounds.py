"""Each SMARTS 2.0.1 bug in smarts_rl.upstream.smarts (building scenarios, speed) and
smarts_rl.agents.smarts_fixes (driving) still bites without its work-around."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from smarts.core.agent_interface import AgentInterface
from smarts.core.controllers import ActionSpaceType
from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1

from smarts_rl.agents import AgentSettings, agent_interface
from smarts_rl.agents.smarts_fixes import ego_yaw_rate, fix_via_point_sorting, smarts_max_episode_steps
from smarts_rl.scenarios.build import build_scenario, sumo_tools_environment
from smarts_rl.upstream.smarts import map_only_build_command, name_sumo_map_as_smarts_expects
from tests.helpers import USER_SCENARIO_PY, drive, three_node_road

REPO = Path(__file__).resolve().parent.parent


def test_map_only_folder_crashes_smarts_until_built_as_an_empty_scenario(tmp_path):
    folder = tmp_path / "just_a_map"
    three_node_road(folder)

    with pytest.raises(FileNotFoundError, match="build"):
        drive(folder, agents=1, max_episode_steps=5)

    subprocess.run(map_only_build_command(), cwd=folder, env=sumo_tools_environment(), check=True)

    last, _ = drive(folder, agents=1, max_episode_steps=5)
    assert last["agent_0"].steps_completed == 5


def smarts_build(folder: Path, *workarounds: str) -> subprocess.CompletedProcess:
    """Build ``folder``'s scenario.py the way SMARTS does, after the given work-around calls."""
    code = "; ".join(
        ["import sys", "from smarts_rl.upstream import smarts as workarounds", *workarounds,
         "from smarts.sstudio import scenario_builder", "scenario_builder._build(sys.argv[1], 42)"]
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(folder / "scenario.py")],
        env=sumo_tools_environment(), capture_output=True, text=True,
    )


def test_duarouter_failure_reason_is_hidden_until_reported(tmp_path):
    folder = tmp_path / "unroutable_flow"
    three_node_road(folder)
    unroutable = USER_SCENARIO_PY.replace('("B0C0", 1, "max")', '("no_such_road", 1, "max")')
    (folder / "scenario.py").write_text(unroutable)

    unpatched = smarts_build(folder)
    assert unpatched.returncode != 0
    assert "duarouter" in unpatched.stderr and "is not known" not in unpatched.stderr

    logs = tmp_path / "private_logs"
    patched = smarts_build(folder, f"workarounds.report_duarouter_errors({str(logs)!r})")
    assert patched.returncode != 0
    last_line = patched.stderr.strip().splitlines()[-1]
    assert last_line.startswith("RuntimeError: duarouter Error: The edge 'no_such_road' within")
    assert list(logs.rglob("t0.log")), "duarouter should log into the private folder"


def test_a_map_not_named_map_net_xml_fails_to_build_until_renamed(tmp_path):
    folder = tmp_path / "city"
    three_node_road(folder)
    (folder / "map.net.xml").rename(folder / "city.net.xml")
    (folder / "scenario.py").write_text(USER_SCENARIO_PY)

    unpatched = smarts_build(folder)
    assert unpatched.returncode != 0
    assert "unknown url type" in unpatched.stderr and "map.net.xml" in unpatched.stderr

    name_sumo_map_as_smarts_expects(folder)

    assert smarts_build(folder).returncode == 0
    assert (folder / "build" / "traffic" / "t0.rou.xml").is_file()


def test_a_mission_with_via_points_crashes_smarts_until_the_sort_is_fixed(tmp_path):
    folder = tmp_path / "via_points"
    three_node_road(folder)
    (folder / "scenario.py").write_text(
        USER_SCENARIO_PY.replace(
            'end=("B0C0", 0, 50)))',
            'end=("B0C0", 0, 50)), via=(Via("A0B0", lane_index=0, lane_offset=50, required_speed=10),))',
        ).replace("Flow, MapSpec,", "Flow, MapSpec, Via,")
    )
    built = build_scenario(folder, tmp_path / "cache")

    unpatched = subprocess.run(  # a fresh process: this one may already be patched
        [sys.executable, "-c", "import sys; from tests.helpers import drive; drive(sys.argv[1], 1, 5)"]
        + [str(built)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert "TypeError" in unpatched.stderr
    assert "missing 1 required positional argument: '_'" in unpatched.stderr

    fix_via_point_sorting()

    last, _ = drive(built, agents=1, max_episode_steps=5)
    assert last["agent_0"].steps_completed == 5
    assert last["agent_0"].via_data.near_via_points


def raw_env(scenario, interface):
    return HiWayEnvV1(
        scenarios=[str(scenario)], agent_interfaces={"a": interface}, headless=True,
        observation_options="unformatted", action_options="unformatted",
    )


def actions_until_done(env) -> int:
    env.reset()
    for actions in range(1, 100):
        _, _, dones, _, _ = env.step({"a": "keep_lane"})
        if dones["__all__"]:
            return actions
    raise AssertionError("episode did not end")


def test_smarts_gives_one_action_fewer_than_max_episode_steps(map_only_scenario):
    env = raw_env(map_only_scenario, AgentInterface(action=ActionSpaceType.Lane, max_episode_steps=5))
    try:
        assert actions_until_done(env) == 4  # the bug
    finally:
        env.close()
    settings = AgentSettings(name="laner", max_episode_steps=5)
    assert agent_interface(settings).max_episode_steps == smarts_max_episode_steps(5)
    env = raw_env(map_only_scenario, agent_interface(settings))
    try:
        assert actions_until_done(env) == 5
    finally:
        env.close()


def test_yaw_rate_is_garbage_but_angular_velocity_is_right(map_only_scenario):
    interface = AgentInterface(action=ActionSpaceType.Continuous, max_episode_steps=50)
    env = raw_env(map_only_scenario, interface)
    try:
        obs, _ = env.reset()
        headings, yaw_rates, fixed = [], [], []
        for _ in range(6):
            obs, _, dones, _, _ = env.step({"a": np.array([0.3, 0.0, 0.2], dtype=np.float32)})
            assert not dones["__all__"]
            ego = obs["a"].ego_vehicle_state
            headings.append(float(ego.heading))
            yaw_rates.append(float(ego.yaw_rate))
            fixed.append(ego_yaw_rate(ego))
    finally:
        env.close()
    # Heading change per 0.1 s step is the yaw rate we expect to observe.
    measured = np.diff(np.unwrap(headings)) / 0.1
    assert np.max(np.abs(np.array(yaw_rates[1:]) - measured)) > 1.0  # the bug
    np.testing.assert_allclose(fixed[1:], measured, atol=0.1)


def test_suppress_output_closes_another_threads_file_until_fixed(tmp_path, monkeypatch):
    from smarts.core import sumo_traffic_simulation
    from smarts.core.utils import core_logging

    from smarts_rl.agents.smarts_fixes import _suppress_output, apply_runtime_workarounds

    def file_opened_meanwhile_survives(suppress_output) -> bool:
        """Right after suppress_output's first close, "another thread" opens a file: it gets the
        lowest free descriptor, the one just closed. Is that file still open afterwards?"""
        real_close, other = os.close, []

        def close_then_another_thread_opens_a_file(fd):
            real_close(fd)
            if not other:
                other.append(os.open(tmp_path / "other_thread.log", os.O_WRONLY | os.O_CREAT))

        with monkeypatch.context() as patch:
            patch.setattr(os, "close", close_then_another_thread_opens_a_file)
            with suppress_output(stderr=False):
                print("suppressed")
        try:
            os.fstat(other[0])
        except OSError:
            return False
        os.close(other[0])
        return True

    assert not file_opened_meanwhile_survives(core_logging.suppress_output)
    assert file_opened_meanwhile_survives(_suppress_output)
    apply_runtime_workarounds()
    assert sumo_traffic_simulation.suppress_output is _suppress_output


def test_the_fixed_suppress_output_still_silences_what_is_printed_meanwhile(capfd):
    from smarts_rl.agents.smarts_fixes import _suppress_output

    with _suppress_output(stderr=False):
        print("hidden")
    print("shown")
    assert capfd.readouterr().out == "shown\n"


def _episodes(scenarios: list[Path], episodes: int) -> tuple[list, set, list]:
    """(where every car, the ego's too, is 10 steps into each episode, the pids of the sumo processes,
    each episode's road map), with the episodes taking the scenarios in turn, as a set of scenarios does."""
    from smarts.core import seed as smarts_seed
    from smarts.core.scenario import Scenario

    from tests.helpers import sumo_children

    interface = agent_interface(AgentSettings(name="laner"))
    env = HiWayEnvV1(scenarios=[str(s) for s in scenarios], agent_interfaces={"agent_0": interface}, headless=True,
                     observation_options="unformatted", action_options="unformatted")
    variations = [Scenario.scenario_variations([str(s)], ["agent_0"]) for s in scenarios]
    positions, pids, maps = [], set(), []
    try:
        for episode in range(episodes):
            smarts_seed(episode)
            env.reset(options={"scenario": next(variations[episode % len(scenarios)])})
            pids |= {p.pid for p in sumo_children()}
            for _ in range(10):
                env.step({"agent_0": "keep_lane"})
            positions.append(sorted((v.id, tuple(np.round(v.position, 6))) for v in env.smarts.vehicle_index.vehicles))
            maps.append(env.smarts.road_map)
    finally:
        env.close()
    return positions, pids, maps


def test_smarts_starts_a_new_sumo_at_every_reset_until_it_reloads_the_same_episodes(tmp_path, monkeypatch):
    from smarts.core.utils.sumo_utils import TraciConn

    from smarts_rl.upstream.smarts import reload_sumo_between_episodes

    from smarts_rl.scenarios.build import Settings, scenario_source

    scenario = build_scenario(scenario_source(Settings(name="intersection"), cwd=REPO), tmp_path / "cache")
    reload_sumo_between_episodes()
    reloading = TraciConn.must_reset

    monkeypatch.setattr(TraciConn, "must_reset", reloading.original)
    restarted, restarted_pids, _ = _episodes([scenario], 3)
    assert len(restarted_pids) == 3, "SMARTS started one sumo per reset"

    monkeypatch.setattr(TraciConn, "must_reset", reloading)
    reloaded, reloaded_pids, _ = _episodes([scenario], 3)
    assert len(reloaded_pids) == 1, "one sumo, reloaded at each reset"
    assert reloaded == restarted
    assert all(len(cars) >= 4 for cars in reloaded), "the episodes have traffic to compare"


def test_smarts_rebuilds_and_collects_at_every_change_of_map_until_it_keeps_each_map(tmp_path, monkeypatch):
    import gc

    from smarts.core import default_map_builder
    from smarts.core.sumo_road_network import SumoRoadNetwork

    from smarts_rl.upstream.smarts import keep_each_road_map_of_a_set
    from smarts_rl.scenarios.build import Settings, scenario_source

    scenarios = [build_scenario(scenario_source(Settings(name=name), cwd=REPO), tmp_path / "cache")
                 for name in ("loop", "merge")]
    keep_each_road_map_of_a_set()
    keeping, forgetting = SumoRoadNetwork.from_spec, default_map_builder._clear_cache
    collections = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(1) or collect(*args))

    monkeypatch.setattr(SumoRoadNetwork, "from_spec", keeping.original)
    monkeypatch.setattr(default_map_builder, "_clear_cache", forgetting.original)
    rebuilt, _, rebuilt_maps = _episodes(scenarios, 4)
    assert rebuilt_maps[0] is not rebuilt_maps[2], "loop's map built again after merge's"
    assert len(collections) >= 3, "a full collection at each change of map"

    collections.clear()
    monkeypatch.setattr(SumoRoadNetwork, "from_spec", keeping)
    monkeypatch.setattr(default_map_builder, "_clear_cache", forgetting)
    kept, _, kept_maps = _episodes(scenarios, 4)
    assert kept_maps[0] is kept_maps[2] and kept_maps[1] is kept_maps[3] and kept_maps[0] is not kept_maps[1]
    assert not collections
    assert kept == rebuilt, "the same episodes"
    assert all(len(cars) >= 2 for cars in kept), "the episodes have cars to compare"

    map_file = scenarios[0] / "map.net.xml"
    os.utime(map_file, ns=(map_file.stat().st_atime_ns, map_file.stat().st_mtime_ns + 10**9))
    assert SumoRoadNetwork.from_spec(kept_maps[0].map_spec) is not kept_maps[0], "a rewritten map is read again"


def test_smarts_keeps_every_point_it_converts_until_its_point_caches_are_bounded(monkeypatch):
    from smarts.core import coordinates
    from smarts.core.coordinates import Point

    from smarts_rl.upstream.smarts import bound_point_caches

    monkeypatch.setattr(coordinates, "_numpy_points", {})
    monkeypatch.setattr(coordinates, "_shapely_points", {})

    def convert(count: int, start: float = 0.0):
        for i in range(count):  # each point dropped right after, as a step's positions are
            point = Point(start + i, 1.0, 0.0)
            assert point.as_np_array.tolist() == [start + i, 1.0, 0.0]
            assert point.as_shapely.x == start + i

    convert(3000)
    assert len(coordinates._numpy_points) == len(coordinates._shapely_points) == 3000, "every point kept"

    bound_point_caches(size=100)
    bound_point_caches(size=100)  # idempotent
    assert len(coordinates._numpy_points) == len(coordinates._shapely_points) == 100
    convert(3000, start=10_000.0)
    assert len(coordinates._numpy_points) == len(coordinates._shapely_points) == 100, "at most size entries"
    assert Point(12_999.0, 1.0, 0.0) in coordinates._numpy_points, "the newest kept"
