"""Each SMARTS 2.0.1 bug in smarts_rl.workarounds still bites without its work-around."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from smarts_rl.scenarios import build_scenario, sumo_tools_environment
from smarts_rl.workarounds import duarouter_error, fix_via_point_sorting, map_only_build_command
from tests.helpers import USER_SCENARIO_PY, drive, three_node_road

REPO = Path(__file__).resolve().parent.parent


def test_map_only_folder_crashes_smarts_until_built_as_an_empty_scenario(tmp_path):
    folder = tmp_path / "just_a_map"
    three_node_road(folder)

    with pytest.raises(FileNotFoundError, match="build"):
        drive(folder, agents=1, max_episode_steps=5)

    subprocess.run(map_only_build_command(), cwd=folder, env=sumo_tools_environment(), check=True)

    last, _ = drive(folder, agents=1, max_episode_steps=5)
    assert last["agent_0"].steps_completed == 5


def test_duarouter_failure_reason_is_only_in_its_error_log(tmp_path):
    folder = tmp_path / "unroutable_flow"
    three_node_road(folder)
    unroutable = USER_SCENARIO_PY.replace('("B0C0", 1, "max")', '("no_such_road", 1, "max")')
    (folder / "scenario.py").write_text(unroutable)

    smarts_build = subprocess.run(
        [sys.executable, "-m", "smarts.sstudio.scenario_builder", str(folder / "scenario.py"), "42"],
        env=sumo_tools_environment(), capture_output=True, text=True,
    )

    assert smarts_build.returncode != 0
    output = smarts_build.stdout + smarts_build.stderr
    assert "duarouter" in output and "is not known" not in output
    assert duarouter_error(output).startswith("duarouter Error: The edge 'no_such_road' within")


def test_a_mission_with_via_points_crashes_smarts_until_the_sort_is_fixed(tmp_path):
    folder = tmp_path / "via_points"
    three_node_road(folder)
    (folder / "scenario.py").write_text(
        USER_SCENARIO_PY.replace(
            'end=("B0C0", 0, 50)))',
            'end=("B0C0", 0, 50)), via=(Via("A0B0", lane_index=0, lane_offset=50, required_speed=10),))',
        ).replace("Flow, MapSpec,", "Flow, MapSpec, Via,")
    )
    built = build_scenario(folder, tmp_path / "cache")

    unpatched = subprocess.run(  # a fresh process: this one may already be patched
        [sys.executable, "-c", "import sys; from tests.helpers import drive; drive(sys.argv[1], 1, 5)"]
        + [str(built)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert "TypeError" in unpatched.stderr
    assert "missing 1 required positional argument: '_'" in unpatched.stderr

    fix_via_point_sorting()

    last, _ = drive(built, agents=1, max_episode_steps=5)
    assert last["agent_0"].steps_completed == 5
    assert last["agent_0"].via_data.near_via_points
