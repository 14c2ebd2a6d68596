"""SmartsEnv on real SMARTS + SUMO: spaces, actions, episode ends, seeding, agents, cleanup."""

import numpy as np
import pytest

from smarts_rl.agents import AgentSettings
from smarts_rl.agents import continuous, laner
from smarts_rl.env import SmartsEnv, env_config
from smarts_rl.agents.observation import FEATURES, OBS_DIM
from tests.helpers import sumo_children


def make_env(scenario, agent="laner", num_agents=1, seed=0, **agent_fields):
    settings = AgentSettings(name=agent, **agent_fields)
    return SmartsEnv(env_config(scenario, settings, num_agents=num_agents, seed=seed))


def test_observations_lie_in_their_space(map_only_scenario):
    env = make_env(map_only_scenario, "continuous", max_episode_steps=40)
    rng = np.random.default_rng(0)
    try:
        obs, _ = env.reset(seed=1)
        seen = 0
        for _ in range(80):
            for agent_id, o in obs.items():
                assert o.dtype == np.float32 and o.shape == (OBS_DIM,)
                assert env.observation_spaces[agent_id].contains(o), dict(zip(FEATURES, o))
                seen += 1
            actions = {a: rng.uniform(-2, 2, size=3).astype(np.float32) for a in env.agents}
            obs, _, terminateds, truncateds, _ = env.step(actions)
            if terminateds["__all__"] or truncateds["__all__"]:
                obs, _ = env.reset()
        assert seen >= 80
    finally:
        env.close()


def test_continuous_actions_are_clipped_into_bounds():
    clipped = continuous.to_smarts(np.array([5.0, -1.0, -3.0]), "agent_0")
    assert clipped.dtype == np.float32
    np.testing.assert_array_equal(clipped, [1.0, 0.0, -1.0])
    assert continuous.action_space().contains(clipped)


def test_out_of_bounds_continuous_action_reaches_smarts_clipped(map_only_scenario):
    env = make_env(map_only_scenario, "continuous")
    try:
        env.reset(seed=0)
        _, rewards, *_ = env.step({"agent_0": np.array([3.0, -2.0, 0.0], dtype=np.float64)})
        assert np.isfinite(rewards["agent_0"])
    finally:
        env.close()


@pytest.mark.parametrize("bad", [4, -1, 1.5, "keep_lane", np.array([0, 1])])
def test_invalid_lane_action_raises_clear_error(bad):
    with pytest.raises(ValueError, match=r"agent_0: lane action must be an integer in \[0, 3\]"):
        laner.to_smarts(bad, "agent_0")


def test_lane_actions_map_to_smarts_commands():
    assert [laner.to_smarts(a, "a") for a in range(4)] == list(laner.ACTIONS)
    assert laner.to_smarts(np.int64(2), "a") == "change_lane_left"


def test_max_episode_steps_truncates_agent_and_episode(map_only_scenario):
    env = make_env(map_only_scenario, "laner", max_episode_steps=5)
    try:
        env.reset(seed=0)
        for step in range(1, 10):
            obs, _, terminateds, truncateds, _ = env.step({a: 0 for a in env.agents})
            if truncateds["__all__"]:
                break
        assert step == 5
        assert truncateds == {"agent_0": True, "__all__": True}
        assert terminateds == {"agent_0": False, "__all__": False}
        assert env.agents == []
    finally:
        env.close()


def test_driving_off_road_terminates_with_penalty_and_info(map_only_scenario):
    env = make_env(map_only_scenario, "continuous", max_episode_steps=200)
    try:
        env.reset(seed=0)
        full_lock = np.array([1.0, 0.0, 1.0], dtype=np.float32)
        for _ in range(200):
            _, rewards, terminateds, truncateds, infos = env.step({"agent_0": full_lock})
            if terminateds["__all__"] or truncateds["__all__"]:
                break
        assert terminateds == {"agent_0": True, "__all__": True}
        assert infos["agent_0"]["off_road"] is True
        assert rewards["agent_0"] < -5.0  # the off-road term (-10) dominates
        assert infos["agent_0"]["distance_travelled"] > 0.0
    finally:
        env.close()


def first_observations(scenario, seed, steps=50, agent="laner"):
    env = make_env(scenario, agent, max_episode_steps=30, num_agents=2)
    rng = np.random.default_rng(123)
    try:
        obs, _ = env.reset(seed=seed)
        trace = [obs]
        while len(trace) < steps:
            obs, _, terminateds, truncateds, _ = env.step(
                {a: int(rng.integers(4)) for a in env.agents}
            )
            trace.append(obs)
            if terminateds["__all__"] or truncateds["__all__"]:
                obs, _ = env.reset()
                trace.append(obs)
        return trace
    finally:
        env.close()


def test_same_seed_gives_same_first_50_observations(map_only_scenario):
    a = first_observations(map_only_scenario, seed=7)
    b = first_observations(map_only_scenario, seed=7)
    c = first_observations(map_only_scenario, seed=8, steps=2)
    assert len(a) == len(b) >= 50
    for obs_a, obs_b in zip(a, b):
        assert obs_a.keys() == obs_b.keys()
        for agent_id in obs_a:
            np.testing.assert_array_equal(obs_a[agent_id], obs_b[agent_id])
    # A different seed starts the agents elsewhere (random routes on a map without missions).
    assert not np.array_equal(a[0]["agent_0"], c[0]["agent_0"]) or not np.array_equal(
        a[0]["agent_1"], c[0]["agent_1"]
    )


def test_env_runners_given_the_same_reset_seed_drive_different_episodes(map_only_scenario):
    from ray.rllib.env.env_context import EnvContext

    first = []
    for worker_index in (1, 2):
        config = env_config(map_only_scenario, AgentSettings(name="laner"), num_agents=2)
        env = SmartsEnv(EnvContext(config, worker_index=worker_index))
        try:
            first.append(env.reset(seed=5)[0])
        finally:
            env.close()
    assert any(not np.array_equal(first[0][a], first[1][a]) for a in first[0])


def test_two_agents_have_stable_ids_and_their_own_infos(map_only_scenario):
    env = make_env(map_only_scenario, "laner", num_agents=2, max_episode_steps=10)
    try:
        assert env.possible_agents == ["agent_0", "agent_1"]
        for episode in range(2):
            obs, infos = env.reset(seed=episode)
            assert sorted(obs) == ["agent_0", "agent_1"] == sorted(infos)
            done = False
            while not done:
                obs, rewards, terminateds, truncateds, infos = env.step({a: 0 for a in env.agents})
                assert set(rewards) == set(obs) == set(infos) <= set(env.possible_agents)
                for info in infos.values():
                    assert set(info) >= {"speed", "distance_travelled", "collision", "off_road",
                                         "off_route", "reached_goal"}
                done = terminateds["__all__"] or truncateds["__all__"]
    finally:
        env.close()


def test_close_leaves_no_sumo_process(map_only_scenario):
    env = make_env(map_only_scenario)
    env.reset(seed=0)
    env.step({"agent_0": 0})
    assert sumo_children(), "a .net.xml scenario should run SUMO"
    env.close()
    assert sumo_children() == []
    env.close()  # idempotent


@pytest.mark.parametrize("scenario", ["loop", "merge", "intersection"])
@pytest.mark.parametrize("agent", ["laner", "continuous"])
def test_every_builtin_scenario_steps_through_full_episodes(scenario, agent, tmp_path):
    """Two agents, our env, each built-in scenario: episodes end with `__all__` and restart."""
    from pathlib import Path

    from smarts_rl.scenarios.build import Settings, build_scenario, scenario_source

    built = build_scenario(scenario_source(Settings(name=scenario), cwd=Path("/")))
    env = make_env(built, agent, num_agents=2, max_episode_steps=40)
    rng = np.random.default_rng(0)
    try:
        for episode in range(2):
            obs, _ = env.reset(seed=episode)
            assert obs, "agents are on the road after reset"
            ended, steps = set(), 0
            while True:
                actions = {a: env.action_spaces[a].sample() if agent == "continuous" else int(rng.integers(2))
                           for a in env.agents}
                obs, rewards, terminateds, truncateds, infos = env.step(actions)
                steps += 1
                for a in obs:
                    assert env.observation_spaces[a].contains(obs[a])
                    if terminateds[a] or truncateds[a]:
                        assert a not in ended, "an agent ends once"
                        ended.add(a)
                if terminateds["__all__"] or truncateds["__all__"]:
                    break
                assert steps <= 40
            assert ended == {"agent_0", "agent_1"}
    finally:
        env.close()
    assert sumo_children() == []


def _obs_with(events, speed=10.0, speed_limit=13.9):
    """A SMARTS-shaped observation: only the fields the reward reads."""
    from types import SimpleNamespace

    waypoint = SimpleNamespace(speed_limit=speed_limit)
    return SimpleNamespace(events=events, waypoint_paths=[[waypoint]],
                           ego_vehicle_state=SimpleNamespace(speed=speed))


def _events(**flags):
    from types import SimpleNamespace

    defaults = dict(collisions=(), off_road=False, off_route=False, reached_goal=False)
    return SimpleNamespace(**{**defaults, **flags})


def test_reward_terms_add_up_as_configured():
    from smarts_rl.agents import RewardSettings
    from smarts_rl.agents.observation import FEATURES
    from smarts_rl.env.reward import shaped_reward

    settings = RewardSettings(progress=2.0, collision=-10, off_road=-7, off_route=-5, goal=10,
                              over_speed_limit=-0.5, close_following=-3.0)
    features = np.ones(OBS_DIM, dtype=np.float32)  # nobody ahead: ttc feature 1
    assert shaped_reward(settings, 1.5, _obs_with(_events()), features) == pytest.approx(3.0)
    assert shaped_reward(settings, 0.0, _obs_with(_events(collisions=("x",), off_road=True)), features) == -17
    assert shaped_reward(settings, 0.0, _obs_with(_events(reached_goal=True)), features) == 10
    assert shaped_reward(settings, 0.0, _obs_with(_events(), speed=15.9), features) == pytest.approx(-1.0)
    features[FEATURES.index("own_ahead_ttc")] = 0.1  # 1 s to collision with the car ahead
    assert shaped_reward(settings, 0.0, _obs_with(_events()), features) == pytest.approx(-3.0 * (1 - 1 / 3))
    features[FEATURES.index("own_ahead_ttc")] = 1.0
    features[FEATURES.index("heading_error")] = -0.25  # 45 degrees right of the lane
    turning = RewardSettings(heading_error=-2.0, over_speed_limit=0.0)
    assert shaped_reward(turning, 0.0, _obs_with(_events()), features) == pytest.approx(-0.5)


def test_the_env_loads_the_scenario_copy_a_ray_job_shipped(tmp_path, monkeypatch):
    from smarts_rl.env.smarts_env import locate_scenario
    from smarts_rl.scenarios.build import COMPLETE_MARKER

    driver_path = str(tmp_path / "cache" / "loop-0123")
    assert locate_scenario(driver_path, shipped=True) == driver_path  # no copy on sys.path: the path itself
    copy = tmp_path / "runtime_resources" / "working_dir_files" / "_ray_pkg_abc"
    copy.mkdir(parents=True)
    (copy / COMPLETE_MARKER).write_text("{}")
    monkeypatch.syspath_prepend(str(copy))  # what Ray does with a job's working_dir
    assert locate_scenario(driver_path, shipped=True) == str(copy)
    assert locate_scenario(driver_path) == driver_path  # a local run never looks for one
