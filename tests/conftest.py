import shutil
from pathlib import Path

import psutil
import pytest
import smarts


@pytest.fixture(scope="session")
def map_only_scenario(tmp_path_factory) -> Path:
    """A one-lane SUMO loop shipped inside the SMARTS wheel, as a ready-to-load scenario."""
    source = Path(smarts.__file__).parent / "diagnostic" / "n_replay_actors" / "1_actors" / "map.net.xml"
    folder = tmp_path_factory.mktemp("map_only")
    shutil.copy(source, folder / "map.net.xml")
    (folder / "build").mkdir()
    return folder


def sumo_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.name().startswith("sumo")]
