"""`python -m smarts_rl.export`: the package is smarts_rl/agents/ as it is, which imports no Ray;
it drives another scenario in a process where Ray and smarts-rl cannot be imported, and acts
exactly as the RLlib module does on the same observations."""

import ast
import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import smarts_rl
from smarts_rl import export
from smarts_rl.agents import AgentSettings
from smarts_rl.agents.continuous import HIGH, LOW
from smarts_rl.agents.laner import ACTIONS
from smarts_rl.evaluation.policies import load_trained_policy
from smarts_rl.scenarios.build import Settings as ScenarioSettings
from smarts_rl.scenarios.build import build_scenario, scenario_source
from tests.conftest import run_module

DRIVER = Path(__file__).resolve().parent / "drive_exported.py"
AGENT_FOLDER = Path(__file__).resolve().parent.parent / "smarts_rl" / "agents"
WRITTEN = {"policy.json", "README.md"}  # and weights/: what export adds to the folder's files


def folder_files() -> set[str]:
    return {p.relative_to(AGENT_FOLDER).as_posix() for p in AGENT_FOLDER.rglob("*.py") if "__pycache__" not in p.parts}


def absolute_imports(path: Path) -> set[str]:
    """The top-level names a module imports, wherever in it (`..` for a relative import out of its folder)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0] if node.level == 0 else "." * min(node.level, 2))
    return names


# Imports every module of the package named argv[1] where importing Ray or smarts-rl raises,
# and prints what it then has imported.
IMPORT_EVERY_MODULE = """
import importlib, importlib.abc, json, pkgutil, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("ray", "smarts_rl"):
            raise ImportError(f"{name} is blocked")

sys.meta_path.insert(0, Blocked())
package = importlib.import_module(sys.argv[1])
modules = [importlib.import_module(f"{package.__name__}.{m.name}") for m in pkgutil.iter_modules(package.__path__)]
settings = package.AgentSettings(name="continuous")
package.agent_interface(settings), package.action_adapter(settings).action_space(), package.entry_point
print(json.dumps({"modules": sorted(m.__name__ for m in modules),
                  "imported": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def test_the_agent_folder_imports_no_ray_and_nothing_of_smarts_rl_outside_it(tmp_path):
    for name in sorted(folder_files()):
        imported = absolute_imports(AGENT_FOLDER / name)
        assert not imported & {"ray", "smarts_rl", ".."}, (name, imported)
    # Imported as export ships it: a package of its own, where Ray and smarts-rl cannot be imported.
    shutil.copytree(AGENT_FOLDER, tmp_path / "agent_package", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", IMPORT_EVERY_MODULE, "agent_package"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert {f"agent_package.{Path(n).stem}" for n in folder_files() if n != "__init__.py"} == set(answer["modules"])
    assert {"torch", "smarts", "gymnasium"} <= set(answer["imported"])  # the modules really loaded
    assert not {"ray", "smarts_rl"} & set(answer["imported"])


def assert_is_the_agent_folder_plus_policy(package: Path, policy_ids: list[str]):
    """Exactly the folder's files, byte for byte, and what export writes: policy.json, README, weights."""
    files = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    weights = {f"weights/{policy_id}.pt" for policy_id in policy_ids}
    assert files == folder_files() | WRITTEN | weights
    for name in folder_files():
        assert filecmp.cmp(AGENT_FOLDER / name, package / name, shallow=False), name


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
    assert list(tmp_path.iterdir()) == [tmp_path / "exported"]  # nothing of Hydra's
    assert sum(p.stat().st_size for p in package.rglob("*") if p.is_file()) < 1_000_000
    metadata = json.loads((package / "policy.json").read_text())
    assert list(metadata["policies"]) == ["shared"] and metadata["action"] == {"kind": "discrete", "n": 4}
    assert not metadata["policies"]["shared"]["normalize_observations"]
    assert "from loop_agent import entry_point" in (package / "README.md").read_text()
    assert_is_the_agent_folder_plus_policy(package, ["shared"])

    episode, data = drive_without_ray(package, merge_scenario, tmp_path)
    assert not episode["ray_imported"] and episode["steps"] == len(data["vectors"]) >= 1
    assert set(data["sent"]) <= set(ACTIONS)  # SMARTS lane commands
    agent = AgentSettings(name="laner", max_episode_steps=60)
    for vectors, exported in ((data["vectors"], data["actions"]), (data["probes"], data["probe_actions"])):
        assert rllib_actions(laner_run, agent, "shared", "shared", vectors).tolist() == exported.tolist()
    assert len(set(data["probe_actions"].tolist())) > 1, "random observations should not all get one action"


def test_exported_continuous_per_agent_policy_matches_rllib(continuous_run, merge_scenario, tmp_path):
    """Through the Python function, which returns what it wrote."""
    package = tmp_path / "exported" / "continuous_agent"
    result = smarts_rl.export(run=continuous_run, out=package)
    assert (result["out"], result["name"], result["policies"]) == (str(package), "continuous_agent", ["agent_0"])
    assert result["bytes"] == sum(p.stat().st_size for p in package.rglob("*") if p.is_file())
    policies = json.loads((package / "policy.json").read_text())["policies"]
    assert list(policies) == ["agent_0"] and policies["agent_0"]["normalize_observations"]
    assert_is_the_agent_folder_plus_policy(package, ["agent_0"])

    episode, data = drive_without_ray(package, merge_scenario, tmp_path)
    assert not episode["ray_imported"] and episode["steps"] >= 1
    sent = np.stack(data["sent"]).astype(np.float32)
    assert np.all((LOW <= sent) & (sent <= HIGH))
    agent = AgentSettings(name="continuous", max_episode_steps=60)
    for vectors, exported in ((data["vectors"], data["actions"]), (data["probes"], data["probe_actions"])):
        np.testing.assert_allclose(rllib_actions(continuous_run, agent, "per_agent", "agent_0", vectors), exported, atol=1e-5)


def test_a_multirun_exports_each_checkpoint_to_its_own_package(laner_run, tmp_path):
    result = run_module("smarts_rl.export", "-m", f"run={laner_run}", "checkpoint=best,latest",
                        "out=exported/agent_${checkpoint}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == ["agent_best", "agent_latest"]
    for name in ("agent_best", "agent_latest"):
        assert_is_the_agent_folder_plus_policy(tmp_path / "exported" / name, ["shared"])
    assert list(tmp_path.iterdir()) == [tmp_path / "exported"]
