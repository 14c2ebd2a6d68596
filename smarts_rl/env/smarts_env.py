"""`SmartsEnv`: SMARTS as an RLlib `MultiAgentEnv` (new API stack).

One instance drives one SMARTS simulation (and, for SUMO maps, one `sumo` process) with
`num_agents` ego vehicles named `agent_0`, `agent_1`, ... Agents get the scenario's missions
where it declares them and random routes otherwise (SMARTS's own mission assignment).

When `sumo` dies mid-episode SMARTS carries on without it (its vehicles handed to other
providers or gone), which would make a different episode out of the rest: `step` raises
`SumoDiedError` instead, and RLlib's fault tolerance (`conf/config.yaml`'s
`fault_tolerance:`) drops the episode and builds a new env.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import warnings
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from ray.rllib.env.multi_agent_env import MultiAgentEnv
from smarts.core import seed as smarts_seed
from smarts.core.scenario import Scenario

from smarts_rl.agents import AgentSettings, DoneSettings, RewardSettings, action_adapter, agent_interface
from smarts_rl.agents import observation
from smarts_rl.env.reward import shaped_reward
from smarts_rl.scenarios.sets import ScenarioSampler
from smarts_rl.agents.smarts_fixes import apply_runtime_workarounds
from smarts_rl.upstream.smarts import bound_point_caches, speed_up_simulation

TIMESTEP_S = 0.1
# How an agent's episode can end: each a flag in its step info (whether it happened so far).
OUTCOMES = ("collision", "off_road", "off_route", "reached_goal")
log = logging.getLogger(__name__)


class SumoDiedError(RuntimeError):
    """The episode's `sumo` process (SMARTS's SUMO traffic simulation) went away mid-episode."""


def agent_ids(count: int) -> list[str]:
    return [f"agent_{i}" for i in range(count)]


def agent_settings_from_dict(agent: dict | AgentSettings) -> AgentSettings:
    if isinstance(agent, AgentSettings):
        return agent
    agent = dict(agent)
    agent["done"] = DoneSettings(**agent.get("done", {}))
    agent["reward"] = RewardSettings(**agent.get("reward", {}))
    return AgentSettings(**agent)


def env_config(
    scenario: str | Path | dict, agent: AgentSettings, num_agents: int = 1, seed: int = 0, **extra: Any
) -> dict:
    """The plain-dict `env_config` that `SmartsEnv` takes (safe to ship to Ray workers).

    `scenario` is a built scenario folder, or a set of them as {name: folder}."""
    if not isinstance(scenario, dict):
        scenario = {built_scenario_name(scenario): scenario}
    scenarios = {str(name): str(folder) for name, folder in scenario.items()}
    return {"scenarios": scenarios, "agent": asdict(agent), "num_agents": num_agents, "seed": seed, **extra}


def built_scenario_name(folder: str | Path) -> str:
    """A scenario's name from its build folder (`<name>-<content hash>`, see `build_scenario`)."""
    name = Path(folder).name
    return re.sub(r"-[0-9a-f]{16}$", "", name)


def locate_scenario(scenario: str, shipped: bool = False) -> str:
    """The built scenario folder to load: `scenario` (the driver's absolute path), or with
    `shipped`, the copy Ray made on this node of the job's runtime_env, which Ray puts on
    `sys.path` (see `smarts_rl.run.cluster.runtime_env`): the job's working_dir (a copy of the first
    scenario) or, for the other scenarios of a set, a py_module named as the build folder. So
    worker nodes need not share the driver's disk. Falls back to `scenario` if no copy is found."""
    from smarts_rl.scenarios.build import COMPLETE_MARKER

    if shipped:
        for entry in sys.path:
            if entry and (Path(entry) / Path(scenario).name / COMPLETE_MARKER).is_file():
                return str(Path(entry) / Path(scenario).name)
        for entry in sys.path:
            if entry and (Path(entry) / COMPLETE_MARKER).is_file():
                return entry
    return str(scenario)


class SmartsEnv(MultiAgentEnv):
    """`env_config` keys: `scenarios` ({name: absolute path of a built scenario}), `agent` (the
    `conf/agent` settings as a dict), `num_agents` and `seed`; optionally `scenario_sampling`
    and `scenario_weights` (how a set's scenarios take turns: `ScenarioSampler`),
    `num_envs_per_env_runner` (to stagger sub-envs over the set), `scenario_shipped`
    (load the copies the Ray job shipped instead: `locate_scenario`),
    `envision_endpoint` (stream to the Envision server there, e.g. "ws://127.0.0.1:8081")
    and `envision_record_dir` (save an Envision replay there), `envision_sim_name` (the
    simulation's name in Envision)."""

    def __init__(self, config: dict | None = None):
        super().__init__()
        # RLlib's EnvContext carries the worker index as an attribute, which dict() drops.
        worker_index = int(getattr(config, "worker_index", 0) or 0)
        config = dict(config or {})
        self._settings = agent_settings_from_dict(config["agent"])
        self._adapter = action_adapter(self._settings)
        self._radius = float(self._settings.neighbourhood_radius)
        count = int(config.get("num_agents", 1))
        if count < 1:
            raise ValueError(f"agents.count must be >= 1, got {count}")

        self.possible_agents = agent_ids(count)
        self.agents = []
        self.observation_spaces = {a: observation.observation_space() for a in self.possible_agents}
        self.action_spaces = {a: self._adapter.action_space() for a in self.possible_agents}

        # RLlib passes each sub-env `reset(seed=config.seed + worker_index + vector_index)`;
        # mixing in the worker index keeps (worker, sub-env) pairs apart.
        self._worker_index = worker_index
        self._seed = int(config.get("seed", 0))
        self._rng = np.random.default_rng([self._seed, self._worker_index])

        # The folders actually loaded: Ray's shipped copies on a cluster.
        shipped = bool(config.get("scenario_shipped"))
        self.scenario_dirs = {name: locate_scenario(folder, shipped) for name, folder in config["scenarios"].items()}
        self.scenario_names = list(self.scenario_dirs)
        self._sampling = (config.get("scenario_sampling", "cycle"), config.get("scenario_weights"))
        self._envs_per_runner = int(config.get("num_envs_per_env_runner", 1))
        self._sampler, self._sampler_seed = self._new_sampler(self._seed), None
        self.scenario = self.scenario_names[0]  # the scenario of the current episode
        self._hiway = _make_hiway_env(
            {**config, "scenarios": list(self.scenario_dirs.values())}, self.possible_agents, self._settings,
            seed=self._seed,
        )
        # Each scenario steps through its own traffic and mission variations in turn, as
        # SMARTS does for a single one, whichever the others' turns.
        self._variations = {
            name: Scenario.scenario_variations([folder], self.possible_agents, shuffle_scenarios=True)
            for name, folder in self.scenario_dirs.items()
        }
        self._sumo: list = []  # the SUMO traffic simulations running this episode
        self._done: set[str] = set()
        self._episode: dict[str, dict] = {}
        # Seconds spent inside SMARTS's own reset/step calls: speed reports set it back to 0.
        self.simulator_seconds = 0.0

    # -- gymnasium / RLlib API ---------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng([int(seed), self._worker_index])
            if seed != self._sampler_seed:
                # Only a new seed starts a new walk through the set: a seed given again (as
                # RLlib 2.60's env runners did at every reset, fault_tolerance.SeedFirstResetOnly)
                # must not send every episode to the set's first scenario.
                self._sampler, self._sampler_seed = self._new_sampler(int(seed)), seed
        self.scenario = self.scenario_names[self._sampler.next()]
        # SMARTS draws from the global `random`/`np.random` (routes, SUMO's seed), so the
        # episode is reproducible only if we seed them right before its reset.
        smarts_seed(int(self._rng.integers(2**31 - 1)))
        start = time.perf_counter()
        scenario = next(self._variations[self.scenario])
        raw_obs, _ = self._hiway.reset(options={"scenario": scenario, **(options or {})})
        self.simulator_seconds += time.perf_counter() - start
        self._sumo = [sim for sim in _sumo_simulations(self._hiway) if sim.connected]
        self._done = set()
        self._episode = {}
        self._steps = 0
        obs, infos = {}, {}
        for agent_id, agent_obs in raw_obs.items():
            self._episode[agent_id] = self._new_episode(agent_obs)
            obs[agent_id] = observation.encode(agent_obs, self._radius)
            infos[agent_id] = self._info(agent_id, agent_obs)
        self.agents = list(obs)
        return obs, infos

    def step(self, action_dict: dict):
        unknown = set(action_dict) - set(self.agents)
        if unknown:
            raise ValueError(f"actions for agents that are not active: {sorted(unknown)}")
        smarts_actions = {a: self._adapter.to_smarts(act, a) for a, act in action_dict.items()}
        start = time.perf_counter()
        raw_obs, raw_rewards, _, _, _ = self._hiway.step(smarts_actions)
        self.simulator_seconds += time.perf_counter() - start
        self._steps += 1
        if any(not sim.connected for sim in self._sumo):
            raise SumoDiedError(
                f"sumo died at step {self._steps} of the episode (SMARTS lost its TraCI connection); "
                "the episode cannot go on as simulated"
            )

        obs, rewards, terminateds, truncateds, infos = {}, {}, {}, {}, {}
        for agent_id, agent_obs in raw_obs.items():
            events = agent_obs.events
            if agent_id not in self._episode:
                self._episode[agent_id] = self._new_episode(agent_obs)
            episode = self._episode[agent_id]
            episode["distance"] += float(agent_obs.distance_travelled)
            episode["collision"] |= bool(events.collisions)
            episode["off_road"] |= bool(events.off_road)
            episode["off_route"] |= bool(events.off_route)
            episode["reached_goal"] |= bool(events.reached_goal)

            obs[agent_id] = observation.encode(agent_obs, self._radius)
            rewards[agent_id] = shaped_reward(self._settings.reward, raw_rewards[agent_id], agent_obs, obs[agent_id])
            terminated, truncated = self._ended(events)
            terminateds[agent_id], truncateds[agent_id] = terminated, truncated
            if terminated or truncated:
                self._done.add(agent_id)
            infos[agent_id] = self._info(agent_id, agent_obs)

        # An agent SMARTS dropped without reporting it done (it should not) must not hang
        # the episode: end it for RLlib as truncated.
        for agent_id in self.agents:
            if agent_id not in raw_obs and agent_id not in self._done:
                self._done.add(agent_id)
                truncateds[agent_id], terminateds[agent_id] = True, False

        self.agents = [a for a in obs if a not in self._done]
        all_done = len(self._done) == len(self.possible_agents) or (
            not self.agents and self._steps >= self._settings.max_episode_steps
        )
        terminateds["__all__"] = all_done and all(terminateds.get(a, True) for a in obs)
        truncateds["__all__"] = all_done and not terminateds["__all__"]
        if all_done:
            self.agents = []
        return obs, rewards, terminateds, truncateds, infos

    @property
    def simulation(self):
        """The SMARTS simulator behind this env (road map, every vehicle): for viewers, read only."""
        return self._hiway.smarts

    def close(self):
        """Ends the simulation and its `sumo`, also after a step or reset raised half-way.

        Never raises: RLlib closes every sub-env of a runner in turn (after a crash too), and
        one failing close must not leave the others' `sumo` running."""
        hiway, self._hiway = self._hiway, None
        if hiway is None:
            return
        sumo = _sumo_simulations(hiway)
        try:
            hiway.close()
        except Exception as exc:  # a crashed simulation may fail its own teardown
            log.warning("closing SMARTS failed (%s: %s); stopping its sumo directly", type(exc).__name__, exc)
        finally:
            # SMARTS's teardown stops sumo last, so an error before that would leave it running.
            for sim in sumo:
                try:
                    sim.destroy()
                except Exception as exc:
                    log.warning("stopping sumo failed: %s: %s", type(exc).__name__, exc)

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the simulator may already be gone
            pass

    # -- helpers -------------------------------------------------------------------------

    def _new_sampler(self, reset_seed: int) -> ScenarioSampler:
        # RLlib resets sub-env v of env runner w with seed `trial seed + w + v`: so
        # `reset_seed - w + w * envs_per_runner` is the sub-env's place among all the run's
        # sub-envs (plus a constant), which staggers their walks round the cycle.
        sampling, weights = self._sampling
        position = reset_seed - self._worker_index + self._worker_index * self._envs_per_runner
        return ScenarioSampler(len(self.scenario_names), sampling, weights, seed=self._seed,
                               stream=(reset_seed, self._worker_index), position=position)

    def _ended(self, events) -> tuple[bool, bool]:
        done = self._settings.done
        terminated = bool(
            events.reached_goal
            or (done.collision and events.collisions)
            or (done.off_road and events.off_road)
            or (done.off_route and events.off_route)
            or (done.on_shoulder and events.on_shoulder)
            or (done.wrong_way and events.wrong_way)
            or (done.not_moving and events.not_moving)
        )
        truncated = not terminated and bool(events.reached_max_episode_steps)
        return terminated, truncated

    def _new_episode(self, agent_obs) -> dict:
        return {"mission": self._mission(agent_obs), "distance": 0.0, **dict.fromkeys(OUTCOMES, False)}

    def _mission(self, agent_obs) -> str:
        """'<start road> -> <goal road>': which of a scenario's missions the agent drives (SMARTS
        rotates them over episodes), so that results can be told apart per mission."""
        from smarts.core.coordinates import Point

        ego = agent_obs.ego_vehicle_state
        goal = getattr(ego.mission.goal, "position", None) if ego.mission else None
        if goal is None:
            return f"{ego.road_id} -> anywhere"
        lane = self.simulation.road_map.nearest_lane(Point(float(goal[0]), float(goal[1])))
        return f"{ego.road_id} -> {lane.road.road_id if lane else 'goal'}"

    def _info(self, agent_id: str, agent_obs) -> dict:
        episode = self._episode[agent_id]
        return {
            "scenario": self.scenario,
            "mission": episode["mission"],
            "speed": float(agent_obs.ego_vehicle_state.speed),
            "distance_travelled": episode["distance"],
            **{outcome: episode[outcome] for outcome in OUTCOMES},
        }


def _sumo_simulations(hiway) -> list:
    """The SUMO traffic simulations (each with its `sumo` process) among SMARTS's providers."""
    from smarts.core.sumo_traffic_simulation import SumoTrafficSimulation

    smarts = getattr(hiway, "smarts", None)
    if smarts is None:
        return []
    return [p for p in smarts.providers if isinstance(p, SumoTrafficSimulation)]


def _make_hiway_env(config: dict, ids: list[str], settings: AgentSettings, seed: int):
    """SMARTS's gymnasium env with raw observations and actions: we format both ourselves,
    which is cheaper than its generic formatters."""
    from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1

    apply_runtime_workarounds()
    speed_up_simulation()  # training's own: an exported agent drives the same without it
    bound_point_caches()  # else every point SMARTS converts stays in memory
    logging.getLogger("SMARTS").setLevel(logging.ERROR)
    # SMARTS calls a TraCI function with a renamed parameter on every SUMO vehicle move.
    warnings.filterwarnings("ignore", message="Use of deprecated parameter lane")
    interface = agent_interface(settings)
    endpoint, record_dir = config.get("envision_endpoint"), config.get("envision_record_dir")
    return HiWayEnvV1(
        scenarios=config["scenarios"],
        agent_interfaces={a: interface for a in ids},
        # SMARTS makes an Envision client only when not headless; ours may still only record.
        headless=not (endpoint or record_dir),
        sim_name=config.get("envision_sim_name"),
        visualization_client_builder=partial(_envision_client, endpoint, record_dir),
        seed=seed,
        fixed_timestep_sec=TIMESTEP_S,
        observation_options="unformatted",
        action_options="unformatted",
    )


def _envision_client(endpoint: str | None, record_dir: str | None, headless: bool, sim_name: str | None):
    from envision.client import Client
    from envision.data_formatter import EnvisionDataFormatterArgs

    return Client(
        endpoint=endpoint,
        output_dir=record_dir,
        headless=not endpoint,
        sim_name=sim_name or "smarts_rl",
        # The formatting HiWayEnvV1's own default client uses.
        data_formatter_args=EnvisionDataFormatterArgs("base", enable_reduction=False),
    )
