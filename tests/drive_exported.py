"""Drive one episode with an exported policy package, where Ray and smarts-rl cannot be imported.

    python tests/drive_exported.py <package name> <built scenario> <out.npz>

Run it with PYTHONPATH holding only the package's parent folder. Saves the observation vectors
the agent saw, its actions in the training env's action space and what it sent to SMARTS, and
its actions on random observation vectors; prints a JSON line about the episode.
"""

import sys

# Importing either now raises ImportError, wherever in the package or SMARTS it happens.
sys.modules["ray"] = None
sys.modules["smarts_rl"] = None

import importlib  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402
from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1  # noqa: E402
from smarts.zoo import registry  # noqa: E402

name, scenario, out = sys.argv[1:4]
PROBES = 256  # random observation vectors, to compare actions beyond the episode's
package = importlib.import_module(name)
spec = package.entry_point()
# The zoo route gives an equivalent spec.
assert registry.make(f"{name}:{name}-v0").interface == spec.interface
agent = spec.build_agent()
env = HiWayEnvV1(
    scenarios=[scenario],
    agent_interfaces={"agent_0": spec.interface},
    observation_options="unformatted",
    action_options="unformatted",
    headless=True,
    seed=0,
)
vectors, actions, sent = [], [], []
steps, events = 0, {}
try:
    observations, _ = env.reset(seed=0)
    done = False
    while not done:
        obs = observations["agent_0"]
        vector = agent.observation_vector(obs)
        vectors.append(vector)
        actions.append(agent.policy(vector))
        sent.append(agent.act(obs))
        observations, _, terminated, truncated, _ = env.step({"agent_0": sent[-1]})
        steps += 1
        done = terminated["__all__"] or truncated["__all__"]
        if "agent_0" in observations:
            e = observations["agent_0"].events
            events = {"collision": bool(e.collisions), "off_road": bool(e.off_road), "reached_goal": bool(e.reached_goal)}
finally:
    env.close()
probes = np.random.default_rng(0).uniform(-1, 1, (PROBES, len(vectors[0]))).astype(np.float32)
np.savez(
    out,
    vectors=np.array(vectors),
    actions=np.array(actions),
    sent=np.array(sent, dtype=object),
    probes=probes,
    probe_actions=np.array([agent.policy(v) for v in probes]),
)
print(json.dumps({"steps": steps, "events": events, "ray_imported": "ray" in sys.modules and sys.modules["ray"] is not None}))
