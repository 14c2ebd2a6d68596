import shutil
from pathlib import Path

import psutil
import pytest
import smarts

from smarts_rl.scenarios import build_scenario
from tests.helpers import USER_SCENARIO_PY, three_node_road


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


def sumo_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.name().startswith("sumo")]


@pytest.fixture
def user_scenario(tmp_path) -> Path:
    """A SMARTS-style scenario folder of a user's: a map plus a scenario.py with traffic."""
    folder = tmp_path / "my scenario"  # a space, as users' folders have
    three_node_road(folder)
    (folder / "scenario.py").write_text(USER_SCENARIO_PY)
    return folder
