"""Work-arounds for the SMARTS 2.0.1 bugs met while building scenarios, one function per bug.

The bugs met while simulating are fixed in `smarts_rl/agents/smarts_fixes.py`, which an exported
agent ships with. Each function's docstring names the bug; ``tests/test_workarounds.py`` shows
each bug still exists and that the work-around avoids it. Delete a work-around when its test says
SMARTS no longer has the bug.
"""

import shutil
import subprocess
import sys
from pathlib import Path
from typing import List


def map_only_build_command() -> List[str]:
    """The command that builds a scenario folder holding a map and no ``scenario.py``.

    Bug: SMARTS's ``build_scenario`` (``scl scenario build``) skips folders without a
    ``scenario.py``, yet loading such a folder in ``HiWayEnvV1`` crashes with
    ``FileNotFoundError: .../build`` because ``Scenario.discover_traffic_histories`` scans
    ``build/`` without checking that it exists.

    Work-around: build the folder as an empty sstudio ``Scenario``, which writes ``build/``
    (and the map's meshes for Envision) the way a real ``scenario.py`` would. Run the
    command with the scenario folder as its working directory.
    """
    return [
        sys.executable,
        "-c",
        "from smarts.sstudio.genscenario import gen_scenario; "
        "from smarts.sstudio.sstypes import Scenario; "
        "gen_scenario(Scenario(), output_dir='.')",
    ]


def report_duarouter_errors(log_dir: str):
    """Make this process's SMARTS traffic builds fail with duarouter's own error message.

    Bug: SMARTS's traffic generator runs duarouter with its output thrown away, so a flow
    SUMO cannot route (say, on a misspelt road) fails the build with nothing but
    ``CalledProcessError: Command '[.../duarouter', ...]' returned non-zero exit status 1``.
    The reason is only in duarouter's error log, at a path under ``~/.smarts`` that every
    build of a traffic of the same name shares, so concurrent builds overwrite each other's.

    Work-around: write the logs into ``log_dir``, private to this build, and raise the
    log's error line. Call it in the process that runs the scenario.py.
    """
    from smarts.sstudio.generators import TrafficGenerator

    plan_and_save = TrafficGenerator.plan_and_save
    if getattr(plan_and_save, "reports_duarouter_errors", False):
        return

    def plan_and_save_reporting_errors(self, traffic, name, *args, **kwargs):
        self._log_dir = log_dir
        try:
            return plan_and_save(self, traffic, name, *args, **kwargs)
        except subprocess.CalledProcessError as error:
            command = list(error.cmd)
            if "--error-log" not in command:
                raise
            log = Path(command[command.index("--error-log") + 1])
            errors = [line for line in log.read_text().splitlines() if line.startswith("Error:")]
            raise RuntimeError(f"duarouter {errors[-1] if errors else 'failed'}") from error

    plan_and_save_reporting_errors.reports_duarouter_errors = True
    TrafficGenerator.plan_and_save = plan_and_save_reporting_errors


def name_sumo_map_as_smarts_expects(folder: Path):
    """Give a scenario folder's one SUMO map, whatever its name, the name ``map.net.xml``.

    Bug: SMARTS loads any ``*.net.xml`` in a scenario folder as its map, but its traffic and
    mission generator reads ``<folder>/map.net.xml`` regardless, so a scenario.py next to,
    say, ``city.net.xml`` fails to build with ``ValueError: unknown url type:
    '<folder>/map.net.xml'``.

    Work-around: copy the map to ``map.net.xml`` (SMARTS then prefers that name). Leaves
    folders with no or several candidate maps alone. Only use it on a copy of the folder.
    """
    if (folder / "map.net.xml").exists():
        return
    maps = [p for p in folder.glob("*.net.xml") if not p.name.endswith("-AUTOGEN.net.xml")]
    if len(maps) == 1:
        shutil.copy2(maps[0], folder / "map.net.xml")
