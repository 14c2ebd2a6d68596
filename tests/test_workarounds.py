"""Each SMARTS 2.0.1 bug in smarts_rl.workarounds still bites without its work-around."""

import subprocess
import sys

import pytest

from smarts_rl.scenarios import _build_environment
from smarts_rl.workarounds import duarouter_error, map_only_build_command
from tests.helpers import USER_SCENARIO_PY, drive, three_node_road


def test_map_only_folder_crashes_smarts_until_built_as_an_empty_scenario(tmp_path):
    folder = tmp_path / "just_a_map"
    three_node_road(folder)

    with pytest.raises(FileNotFoundError, match="build"):
        drive(folder, agents=1, max_episode_steps=5)

    subprocess.run(map_only_build_command(), cwd=folder, env=_build_environment(), check=True)

    last, _ = drive(folder, agents=1, max_episode_steps=5)
    assert last["agent_0"].steps_completed == 5


def test_duarouter_failure_reason_is_only_in_its_error_log(tmp_path):
    folder = tmp_path / "unroutable_flow"
    three_node_road(folder)
    (folder / "scenario.py").write_text(USER_SCENARIO_PY.replace('("B0C0", 1, "max")', '("no_such_road", 1, "max")'))

    smarts_build = subprocess.run(
        [sys.executable, "-m", "smarts.sstudio.scenario_builder", str(folder / "scenario.py"), "42"],
        env=_build_environment(), capture_output=True, text=True,
    )

    assert smarts_build.returncode != 0
    output = smarts_build.stdout + smarts_build.stderr
    assert "duarouter" in output and "is not known" not in output
    assert duarouter_error(output).startswith("duarouter Error: The edge 'no_such_road' within the route")
