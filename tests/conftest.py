from pathlib import Path

import pytest

from tests.helpers import USER_SCENARIO_PY, three_node_road


@pytest.fixture
def user_scenario(tmp_path) -> Path:
    folder = tmp_path / "my scenario"  # a space, as users' folders have
    three_node_road(folder)
    (folder / "scenario.py").write_text(USER_SCENARIO_PY)
    return folder
