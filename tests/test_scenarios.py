"""Scenario folders build (cached, race-safe) and load in SMARTS; every test uses a private cache."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from smarts_rl.scenarios.build import (
    BUILTIN_SCENARIOS,
    COMPLETE_MARKER,
    ScenarioError,
    Settings,
    build_scenario,
    builtin_scenario_names,
    scenario_source,
)
from smarts_rl.agents.laner import ACTIONS
from tests.helpers import USER_SCENARIO_PY, drive, three_node_road

REPO = Path(__file__).resolve().parent.parent
BUILTINS = ["intersection", "loop", "merge", "overtake"]
# Ego missions per scenario: two each, one for overtake.
MISSIONS = {"intersection": 2, "loop": 2, "merge": 2, "overtake": 1}
# Traffic cars on the roads when the egos enter: the loop's eight circling cars; merge and
# intersection draw theirs, but never fewer than this in any of their variations; overtake's slow car.
TRAFFIC_AT_ENTRY = {"loop": 8, "merge": 4, "intersection": 4, "overtake": 1}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("scenario-cache")


def traffic_free_copy(built: Path, destination: Path) -> Path:
    """The built scenario without its SUMO traffic (our scenarios pickle no absolute paths)."""
    shutil.copytree(built, destination)
    shutil.rmtree(destination / "build" / "traffic")
    return destination


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_scenario_runs_with_traffic(name, cache_root):
    built = build_scenario(scenario_source(Settings(name=name), cwd=Path("/")), cache_root)

    last, vehicles = drive(built, agents=1, max_episode_steps=50)

    assert last["agent_0"].steps_completed > 0
    assert len(vehicles) >= min(3, TRAFFIC_AT_ENTRY[name]), f"{name}: expected SUMO traffic, saw {vehicles}"


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_scenario_goals_take_10_to_25_s_to_reach(name, cache_root, tmp_path):
    built = build_scenario(scenario_source(Settings(name=name), cwd=Path("/")), cache_root)
    empty_roads = traffic_free_copy(built, tmp_path / name)

    # Each agent takes one of the scenario's missions; keeping lane reaches every goal.
    last, _ = drive(empty_roads, agents=MISSIONS[name], max_episode_steps=300)

    starts = set()
    for observation in last.values():
        assert observation.events.reached_goal, (name, observation.events)
        driving_s = observation.steps_completed * 0.1
        assert 10 <= driving_s <= 25, (name, driving_s)
        start = observation.ego_vehicle_state.mission.start.position[:2]
        starts.add(tuple(round(float(c), 1) for c in start))
    assert len(starts) == MISSIONS[name], "each agent should have had its own mission"


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_scenario_egos_enter_at_once_at_their_starts_among_traffic(name, cache_root):
    from smarts.core.agent_interface import AgentInterface, AgentType
    from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1

    built = build_scenario(scenario_source(Settings(name=name), cwd=Path("/")), cache_root)
    interface = AgentInterface.from_type(AgentType.Laner, max_episode_steps=10)
    agent_ids = [f"agent_{i}" for i in range(MISSIONS[name])]
    env = HiWayEnvV1(scenarios=[str(built)], agent_interfaces={agent_id: interface for agent_id in agent_ids},
                     headless=True, observation_options="unformatted")
    try:
        for seed in range(4):  # SMARTS draws a traffic variation per reset
            observations, _ = env.reset(seed=seed)

            assert sorted(observations) == agent_ids
            warmup_steps = round(env.smarts.elapsed_sim_time / 0.1)
            assert warmup_steps <= 5, (name, seed, warmup_steps)
            traffic = env.smarts.vehicle_index.social_vehicle_ids()
            assert len(traffic) >= TRAFFIC_AT_ENTRY[name], (name, seed, traffic)
            for observation in observations.values():
                ego = observation.ego_vehicle_state
                start = np.asarray(ego.mission.start.position[:2])
                # At its own start (its centre half a car behind the start, where its front is),
                # not at a traffic car it took over somewhere behind it.
                assert np.linalg.norm(np.asarray(ego.position[:2]) - start) < 2.5, (name, seed, ego.position, start)
    finally:
        env.close()


def overtake_episode(env, seed: int, overtake: bool):
    """One episode on overtake with lane actions: keeping the lane, or passing the slow car on the
    left and changing back 10 m past it. Returns the ego's last observation."""
    keep_lane, change_left, change_right = map(ACTIONS.index, ("keep_lane", "change_lane_left", "change_lane_right"))
    observations, _ = env.reset(seed=seed)
    done = {"__all__": False}
    while not done["__all__"]:
        ego = observations["agent_0"].ego_vehicle_state
        car = observations["agent_0"].neighborhood_vehicle_states[0]
        passed = ego.position[0] > car.position[0] + 10.0
        action = keep_lane
        if overtake and not passed and ego.lane_index == 0:
            action = change_left
        elif overtake and passed and ego.lane_index == 1:
            action = change_right
        last = observations["agent_0"]
        observations, _, done, _, _ = env.step({"agent_0": action})
        if "agent_0" in observations:
            last = observations["agent_0"]
    return last


def test_overtake_keeping_the_lane_hits_the_slow_car_and_passing_it_reaches_the_goal(cache_root):
    from smarts.core.agent_interface import AgentInterface, AgentType
    from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1

    built = build_scenario(scenario_source(Settings(name="overtake"), cwd=Path("/")), cache_root)
    interface = AgentInterface.from_type(AgentType.Laner, max_episode_steps=300, neighborhood_vehicle_states=True)
    env = HiWayEnvV1(scenarios=[str(built)], agent_interfaces={"agent_0": interface}, headless=True,
                     observation_options="unformatted")
    try:
        for seed in range(3):  # three of its traffic variations
            kept = overtake_episode(env, seed, overtake=False).events
            assert kept.collisions and not kept.reached_goal, (seed, kept)
            passed = overtake_episode(env, seed, overtake=True).events
            assert passed.reached_goal and not passed.collisions, (seed, passed)
    finally:
        env.close()


def test_users_smarts_scenario_folder_builds_outside_it_and_runs(user_scenario, tmp_path):
    before = sorted(p.relative_to(user_scenario) for p in user_scenario.rglob("*"))

    built = build_scenario(user_scenario, tmp_path / "cache")

    assert built.is_relative_to(tmp_path / "cache")
    assert sorted(p.relative_to(user_scenario) for p in user_scenario.rglob("*")) == before
    last, _ = drive(built, agents=1, max_episode_steps=20)
    assert last["agent_0"].steps_completed == 20


def test_a_folder_whose_map_has_another_name_builds(user_scenario, tmp_path):
    (user_scenario / "map.net.xml").rename(user_scenario / "city.net.xml")

    built = build_scenario(user_scenario, tmp_path / "cache")

    assert (built / "build" / "traffic" / "t0.rou.xml").is_file()
    assert not (user_scenario / "map.net.xml").exists()


def test_map_only_folder_builds_and_runs(tmp_path):
    folder = tmp_path / "just_a_map"
    three_node_road(folder)

    built = build_scenario(folder, tmp_path / "cache")

    last, _ = drive(built, agents=1, max_episode_steps=20)
    assert last["agent_0"].steps_completed == 20


def test_second_build_is_a_fast_cache_hit(user_scenario, tmp_path):
    first = build_scenario(user_scenario, tmp_path / "cache")
    marker_written = (first / COMPLETE_MARKER).stat().st_mtime_ns

    started = time.perf_counter()
    second = build_scenario(user_scenario, tmp_path / "cache")
    elapsed = time.perf_counter() - started

    assert second == first
    assert (second / COMPLETE_MARKER).stat().st_mtime_ns == marker_written
    assert elapsed < 0.5


def test_changing_a_source_file_rebuilds(user_scenario, tmp_path):
    first = build_scenario(user_scenario, tmp_path / "cache")
    scenario_py = user_scenario / "scenario.py"
    scenario_py.write_text(scenario_py.read_text().replace("FLOW_RATE = 600", "FLOW_RATE = 60"))

    second = build_scenario(user_scenario, tmp_path / "cache")

    assert second != first
    assert "FLOW_RATE = 60\n" in (second / "scenario.py").read_text()
    routes = lambda built: (built / "build" / "traffic" / "t0.rou.xml").read_text()  # noqa: E731
    assert routes(second).count("<vehicle ") < routes(first).count("<vehicle ")
    assert (first / COMPLETE_MARKER).is_file(), "an old build stays usable"


def test_two_processes_building_one_fresh_scenario_both_get_the_same_valid_build(
    user_scenario, tmp_path
):
    # A slow build, counted, so the two processes surely overlap and duplicates would show.
    builds_run = tmp_path / "builds_run"
    (user_scenario / "scenario.py").write_text(
        "import time\n"
        f"with open({str(builds_run)!r}, 'a') as f: f.write('build\\n')\n"
        "time.sleep(2)\n" + USER_SCENARIO_PY
    )
    build = (
        "import sys; from pathlib import Path; from smarts_rl.scenarios.build import build_scenario; "
        "print(build_scenario(Path(sys.argv[1]), Path(sys.argv[2])))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", build, str(user_scenario), str(tmp_path / "cache")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=120) for p in processes]

    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in results]
    (first, _), (second, _) = results
    assert first.strip() == second.strip()
    assert builds_run.read_text() == "build\n"
    built = Path(first.strip())
    assert (built / COMPLETE_MARKER).is_file()
    assert (built / "build" / "missions.pkl").is_file()
    traffic = sorted(p.name for p in (built / "build" / "traffic").iterdir())
    assert traffic == ["t0.rou.xml", "t1.rou.xml"]


@pytest.mark.parametrize(
    "old, new, reason",
    [
        ('("B0C0", 1, "max")', '("no_such_road", 1, "max")', "RuntimeError: duarouter Error: The edge"),
        ('("B0C0", 0, 50)', '("no_such_road", 0, 50)', "KeyError: 'no_such_road'"),  # in an ego mission
        ("rate=FLOW_RATE", "rate=FLOW_RAT", "NameError: name 'FLOW_RAT' is not defined"),
    ],
    ids=["flow-road", "mission-road", "python"],
)
def test_a_failing_scenario_py_is_a_one_line_error_naming_the_folder(
    old, new, reason, user_scenario, tmp_path
):
    scenario_py = user_scenario / "scenario.py"
    assert old in scenario_py.read_text()
    scenario_py.write_text(scenario_py.read_text().replace(old, new))

    with pytest.raises(ScenarioError) as error:
        build_scenario(user_scenario, tmp_path / "cache")

    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{user_scenario}: scenario.py failed: {reason}")
    assert not list((tmp_path / "cache").glob("*/" + COMPLETE_MARKER))


def test_a_missing_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(ScenarioError, match=f"^{tmp_path / 'nowhere'}: .*does not exist"):
        scenario_source(Settings(name="mine", path="nowhere"), cwd=tmp_path)
    with pytest.raises(ScenarioError, match=f"^{tmp_path / 'nowhere'}: "):
        build_scenario(tmp_path / "nowhere", tmp_path / "cache")


def test_a_folder_that_is_no_scenario_is_an_error_naming_it(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "readme.txt").write_text("not a map")

    with pytest.raises(ScenarioError, match=f"^{folder}: not a scenario folder"):
        scenario_source(Settings(name="mine", path="notes"), cwd=tmp_path)
    with pytest.raises(ScenarioError, match=f"^{folder}: not a scenario folder"):
        build_scenario(folder, tmp_path / "cache")


def test_paths_resolve_against_cwd_and_builtins_against_the_package(user_scenario, tmp_path):
    relative = os.path.relpath(user_scenario, tmp_path / "elsewhere")

    mine = Settings(name="mine", path=relative)
    assert scenario_source(mine, cwd=tmp_path / "elsewhere") == user_scenario
    assert scenario_source(Settings(name="loop"), cwd=tmp_path) == REPO / "scenarios" / "loop"


def test_an_unknown_builtin_name_is_an_error_listing_the_builtins():
    builtins = "intersection, loop, merge"
    with pytest.raises(ScenarioError, match=f"no built-in scenario 'roundabout'.*{builtins}"):
        Settings(name="roundabout")


@pytest.mark.parametrize("name", BUILTINS)
def test_config_file_makes_settings_for_its_builtin(name):
    config = OmegaConf.merge(
        OmegaConf.structured(Settings), OmegaConf.load(REPO / "conf" / "scenario" / f"{name}.yaml")
    )

    settings = OmegaConf.to_object(config)

    assert settings == Settings(name=name, path=None)
    assert scenario_source(settings, cwd=Path("/")) == BUILTIN_SCENARIOS / name


def test_builtins_are_the_three_scenarios():
    assert builtin_scenario_names() == BUILTINS
