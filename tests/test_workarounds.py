"""Each test shows a SMARTS 2.0.1 bug on the raw simulator, then that our workaround fixes it."""

import numpy as np
import pytest
from smarts.core.agent_interface import AgentInterface
from smarts.core.controllers import ActionSpaceType
from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1

from smarts_rl.agents import AgentSettings, agent_interface
from smarts_rl.workarounds import ego_yaw_rate, smarts_max_episode_steps


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
