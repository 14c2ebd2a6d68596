import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import smarts

from smarts_rl.scenarios.build import build_scenario
from tests.helpers import ONE_RUNNER, TINY_SEEDS_TRAINING, TINY_TRAINING, USER_SCENARIO_PY, three_node_road
# One pytest-xdist worker per shared run: pytest finds these hooks here.
from tests.xdist_groups import (  # noqa: F401
    pytest_collection_modifyitems, pytest_configure, pytest_unconfigure, pytest_xdist_make_scheduler,
)


@pytest.fixture(scope="module")
def ray_local():
    """A small local Ray instance for a module's tests that build Algorithms. Module scope:
    training-driver tests start and stop their own Ray, as every training job does."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def map_only_scenario(tmp_path_factory) -> Path:
    """A one-lane SUMO loop shipped inside the SMARTS wheel, as a ready-to-load scenario."""
    source = Path(smarts.__file__).parent / "diagnostic" / "n_replay_actors" / "1_actors" / "map.net.xml"
    folder = tmp_path_factory.mktemp("map_only")
    shutil.copy(source, folder / "map.net.xml")
    return build_scenario(folder, tmp_path_factory.mktemp("cache"))


@pytest.fixture
def user_scenario(tmp_path) -> Path:
    """A SMARTS-style scenario folder of a user's: a map plus a scenario.py with traffic."""
    folder = tmp_path / "my scenario"  # a space, as users' folders have
    three_node_road(folder)
    (folder / "scenario.py").write_text(USER_SCENARIO_PY)
    return folder


# -- tiny trained runs, shared by the evaluate / export / Envision tests --------------------

REPO = Path(__file__).resolve().parent.parent


def _train_tiny(run_dir: Path, *overrides: str) -> Path:
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *TINY_TRAINING, *overrides, f"hydra.run.dir={run_dir}"],
        cwd=run_dir.parent, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.fixture(scope="session")
def laner_run(tmp_path_factory) -> Path:
    """PG, laner agent, one shared policy, trained one iteration on the loop (one env runner: the
    tests that use it are about the checkpoint)."""
    return _train_tiny(tmp_path_factory.mktemp("laner") / "run", *ONE_RUNNER)


@pytest.fixture(scope="session")
def continuous_run(tmp_path_factory) -> Path:
    """PG, continuous agent, one policy per agent (so its only module is `agent_0`), on the loop,
    standardising its observations (so evaluate and export are checked with that, the laner run without)."""
    return _train_tiny(tmp_path_factory.mktemp("continuous") / "run", "agent=continuous", "agents.policy=per_agent",
                       "algo.normalize_observations=true", *ONE_RUNNER)


def run_module(module: str, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def laner_eval(laner_run, tmp_path_factory):
    """`evaluate` on the laner run: two episodes per policy, recording an Envision replay.

    Returns (completed process, eval.json as a dict, the eval directory)."""
    result = run_module(
        "smarts_rl.evaluate", f"run={laner_run}", "episodes=2", "envision_record=true",
        cwd=tmp_path_factory.mktemp("eval_cwd"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    eval_dir = written_eval_dir(result.stdout)
    return result, json.loads((eval_dir / "eval.json").read_text()), eval_dir


def written_eval_dir(stdout: str) -> Path:
    """The evaluation directory, from evaluate's `written: <dir>/eval.json` line."""
    [line] = [line for line in stdout.splitlines() if line.startswith("written:") and line.endswith("eval.json")]
    return Path(line.split(maxsplit=1)[1]).parent


# -- a two-seed sweep, shared by the report and learn_smarts --seeds tests -------------------


@pytest.fixture(scope="session")
def two_seed_sweep(tmp_path_factory) -> Path:
    """`train.py -m seed=0,1` (PG, laner, loop), two iterations each, and each run evaluated with
    two episodes per policy: the multirun directory (jobs 0/ and 1/)."""
    sweep = tmp_path_factory.mktemp("two_seeds") / "multirun"
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "-m", "seed=0,1", *TINY_SEEDS_TRAINING, f"hydra.sweep.dir={sweep}"],
        cwd=sweep.parent, capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    evaluated = run_module("smarts_rl.evaluate", "-m", f"run={sweep / '0'},{sweep / '1'}", "episodes=2", "gif=false",
                           cwd=sweep.parent)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    return sweep
