"""`python -m smarts_rl.export`: the package drives another scenario in a process where Ray and
smarts-rl cannot be imported, and acts exactly as the RLlib module does on the same observations."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smarts_rl import export
from smarts_rl.agents import AgentSettings
from smarts_rl.agents.continuous import HIGH, LOW
from smarts_rl.agents.laner import ACTIONS
from smarts_rl.evaluation.policies import load_trained_policy
from smarts_rl.scenarios.build import Settings as ScenarioSettings
from smarts_rl.scenarios.build import build_scenario, scenario_source
from tests.conftest import run_module

DRIVER = Path(__file__).resolve().parent / "drive_exported.py"


@pytest.fixture(scope="module")
def merge_scenario() -> Path:
    """Not the loop the runs trained on."""
    return build_scenario(scenario_source(ScenarioSettings(name="merge"), Path.cwd()))


def drive_without_ray(package: Path, scenario: Path, tmp_path: Path):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PYTHONPATH"] = str(package.parent)  # the package, and not smarts-rl's checkout
    out = tmp_path / "episode.npz"
    result = subprocess.run(
        [sys.executable, str(DRIVER), package.name, str(scenario), str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), np.load(out, allow_pickle=True)


def rllib_actions(run: Path, agent: AgentSettings, agents_policy: str, module_id: str, vectors: np.ndarray):
    [checkpoint] = (run / "tune").glob("*/checkpoint_*")
    policy = load_trained_policy(checkpoint, agent, agents_policy, ["agent_0"])
    return np.array(policy.actions(module_id, vectors))


def test_exported_laner_policy_drives_the_merge_without_ray_as_rllib_does(laner_run, merge_scenario, tmp_path):
    package = tmp_path / "exported" / "loop_agent"
    result = run_module("smarts_rl.export", f"run={laner_run}", f"out={package}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sum(p.stat().st_size for p in package.rglob("*") if p.is_file()) < 1_000_000
    metadata = json.loads((package / "policy.json").read_text())
    assert list(metadata["policies"]) == ["shared"] and metadata["action"] == {"kind": "discrete", "n": 4}
    assert not metadata["policies"]["shared"]["normalize_observations"]
    assert "from loop_agent import entry_point" in (package / "README.md").read_text()

    episode, data = drive_without_ray(package, merge_scenario, tmp_path)
    assert not episode["ray_imported"] and episode["steps"] == len(data["vectors"]) >= 1
    assert set(data["sent"]) <= set(ACTIONS)  # SMARTS lane commands
    agent = AgentSettings(name="laner", max_episode_steps=60)
    for vectors, exported in ((data["vectors"], data["actions"]), (data["probes"], data["probe_actions"])):
        assert rllib_actions(laner_run, agent, "shared", "shared", vectors).tolist() == exported.tolist()
    assert len(set(data["probe_actions"].tolist())) > 1, "random observations should not all get one action"


def test_exported_continuous_per_agent_policy_matches_rllib(continuous_run, merge_scenario, tmp_path, capfd):
    package = tmp_path / "exported" / "continuous_agent"
    assert export.main([f"run={continuous_run}", f"out={package}"]) == 0, capfd.readouterr().err
    policies = json.loads((package / "policy.json").read_text())["policies"]
    assert list(policies) == ["agent_0"] and policies["agent_0"]["normalize_observations"]

    episode, data = drive_without_ray(package, merge_scenario, tmp_path)
    assert not episode["ray_imported"] and episode["steps"] >= 1
    sent = np.stack(data["sent"]).astype(np.float32)
    assert np.all((LOW <= sent) & (sent <= HIGH))
    agent = AgentSettings(name="continuous", max_episode_steps=60)
    for vectors, exported in ((data["vectors"], data["actions"]), (data["probes"], data["probe_actions"])):
        np.testing.assert_allclose(rllib_actions(continuous_run, agent, "per_agent", "agent_0", vectors), exported, atol=1e-5)
