"""Real SMARTS and SUMO pieces the scenario tests share: small user-style scenarios and a driver."""

import os
import subprocess
import textwrap
from pathlib import Path

import psutil

KEEP_LANE = 0  # the Laner action space: keep lane, slow down, change left, change right

# The one set of tiny training settings: real SMARTS, SUMO and Ray, but 200-step batches of
# episodes of at most 60 steps; and one env runner where a test is not about several.
MAX_EPISODE_STEPS = 60
TINY = ["algo.train_batch_size=200", f"agent.max_episode_steps={MAX_EPISODE_STEPS}"]
ONE_RUNNER = ["env_runners.num_env_runners=1"]
TINY_TRAINING = ["stop.training_iteration=1", *TINY]  # the shared tiny runs of tests/conftest.py
TINY_SEEDS_TRAINING = ["stop.training_iteration=2", *TINY, *ONE_RUNNER]  # each seed of a sweep


def netgenerate(folder: Path, *options: str):
    """A small real SUMO map, as a user would make one: map.net.xml in ``folder``."""
    import sumo

    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(Path(sumo.SUMO_HOME) / "bin" / "netgenerate"), *options, "--output-file", "map.net.xml"],
        cwd=folder,
        env={**os.environ, "SUMO_HOME": sumo.SUMO_HOME},
        check=True,
        capture_output=True,
    )


def three_node_road(folder: Path):
    """Edges A0B0 -> B0C0 eastbound (and back), two lanes, 100 m each."""
    netgenerate(
        folder,
        "--grid", "--grid.x-number=3", "--grid.y-number=1", "--grid.length=100",
        "--default.lanenumber=2", "--no-turnarounds",
    )


# Written the way SMARTS's own example scenarios are: an absolute MapSpec source (which
# SMARTS pickles into the build) and traffic variations.
USER_SCENARIO_PY = textwrap.dedent(
    """
    from pathlib import Path

    from smarts.sstudio.genscenario import gen_scenario
    from smarts.sstudio.sstypes import (
        Flow, MapSpec, Mission, Route, Scenario, Traffic, TrafficActor,
    )

    FLOW_RATE = 600
    flow = Flow(
        route=Route(begin=("A0B0", 1, 0), end=("B0C0", 1, "max")),
        rate=FLOW_RATE,
        end=60,
        actors={TrafficActor(name="car"): 1},
    )
    gen_scenario(
        Scenario(
            traffic={"t0": Traffic(flows=[flow]), "t1": Traffic(flows=[flow])},
            ego_missions=[Mission(Route(begin=("A0B0", 0, 10), end=("B0C0", 0, 50)))],
            map_spec=MapSpec(source=Path(__file__).parent.absolute(), lanepoint_spacing=1.0),
        ),
        output_dir=Path(__file__).parent,
    )
    """
)


def sumo_children() -> list[psutil.Process]:
    """The `sumo` processes descended from this (test) process: each env's TraCI simulation."""
    children = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.name() == "sumo":
                children.append(process)
        except psutil.NoSuchProcess:
            pass
    return children


def drive(scenario_dir: Path, agents: int, max_episode_steps: int):
    """Run one episode of keep-lane Laner agents.

    Returns each agent's last observation and the ids of the other vehicles it saw.

    Checks that the episode started a sumo process and that ``close()`` ended it.
    """
    from smarts.core.agent_interface import AgentInterface, AgentType
    from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1

    interface = AgentInterface.from_type(
        AgentType.Laner, max_episode_steps=max_episode_steps, neighborhood_vehicle_states=True
    )
    env = HiWayEnvV1(
        scenarios=[str(scenario_dir)],
        agent_interfaces={f"agent_{i}": interface for i in range(agents)},
        headless=True,
    )
    try:
        observations, _ = env.reset(seed=0)
        sumo = sumo_children()
        last, others, done = {}, set(), {"__all__": False}
        while not done["__all__"]:
            observations, _, done, _, info = env.step({agent: KEEP_LANE for agent in observations})
            last.update({agent: agent_info["env_obs"] for agent, agent_info in info.items()})
            for agent_info in info.values():
                others.update(v.id for v in agent_info["env_obs"].neighborhood_vehicle_states)
    finally:
        env.close()
    assert sumo, "a SUMO map should run a sumo process"
    _, still_running = psutil.wait_procs(sumo, timeout=5)
    assert not still_running, "close() should end sumo"
    return last, others
