"""Work-arounds for bugs in SMARTS 2.0.1, one function per bug.

Each function's docstring names the bug; ``tests/test_workarounds.py`` shows each bug
still exists and that the work-around avoids it. Delete a work-around when its test says
SMARTS no longer has the bug.
"""

import __future__
import inspect
import re
import sys
import textwrap
from pathlib import Path
from typing import List, Optional


def apply_runtime_workarounds():
    """Fix, in this process, the SMARTS bugs that bite while simulating; call before making an env.

    Idempotent. Each process that runs SMARTS (e.g. every RLlib env runner) needs its own call.
    """
    fix_via_point_sorting()


def fix_via_point_sorting():
    """Make SMARTS's via-point sensor sort its points by distance.

    Bug: ``ViaSensor.__call__`` sorts ``(distance, point)`` pairs with
    ``key=lambda dist, _: dist``, a key taking two arguments, so any ego mission with a via
    point within 80 m of the car raises ``TypeError: ... missing 1 required positional
    argument: '_'`` on its first observation (SMARTS's own
    ``scenarios/sumo/intersections/4lane`` does).

    Work-around: recompile that method from its own source with a one-argument key.
    Does nothing once SMARTS no longer has the bug.
    """
    from smarts.core import sensor

    method = sensor.ViaSensor.__call__
    source = textwrap.dedent(inspect.getsource(method))
    buggy, fixed = "key=lambda dist, _: dist", "key=lambda pair: pair[0]"
    if buggy not in source:
        return
    # Its annotations name types SMARTS imports only for type checkers: leave them unevaluated.
    code = compile(
        source.replace(buggy, fixed),
        inspect.getsourcefile(method),
        "exec",
        flags=__future__.annotations.compiler_flag,
        dont_inherit=True,
    )
    namespace = {}
    exec(code, vars(sensor), namespace)
    sensor.ViaSensor.__call__ = namespace["__call__"]


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


def duarouter_error(build_output: str) -> Optional[str]:
    """The error that made duarouter fail a scenario build, if it did.

    Bug: SMARTS's traffic generator runs duarouter with its output thrown away, so a flow
    SUMO cannot route (say, a misspelt road) fails the build with nothing but
    ``CalledProcessError: Command '[.../duarouter', ...]' returned non-zero exit status 1``.
    The reason is only in the ``--error-log`` file that command names, under ``~/.smarts``.

    Work-around: read that log's error line.
    """
    failed_duarouter = r"CalledProcessError: Command '\[.*duarouter.*'--error-log', '([^']+)'"
    match = re.search(failed_duarouter, build_output)
    if not match:
        return None
    try:
        lines = Path(match.group(1)).read_text().splitlines()
    except OSError:
        return None
    errors = [line.strip() for line in lines if line.startswith("Error:")]
    return f"duarouter {errors[-1]}" if errors else None
