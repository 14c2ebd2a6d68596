"""The SMARTS 2.0.1 fixes a trained agent needs to drive correctly, one function per bug.

They live here, beside the observation encoder and the agent interface that use them, because
`export` ships this folder as the trained agent's package: an exported agent needs the same fixes
as training did, without smarts-rl. Call `apply_runtime_workarounds()` in each process that
runs SMARTS before making an env (our env and benches do). What only makes SMARTS faster (the
training's speed patches) and the fixes needed to build scenarios are in
`smarts_rl/upstream/smarts.py`.

Each function's docstring names the bug; `tests/test_workarounds.py` shows each bug still
exists and that the fix avoids it. Delete a fix when its test says SMARTS no longer has the bug.
"""

import __future__
import contextlib
import ctypes
import functools
import inspect
import os
import sys
import textwrap


def apply_runtime_workarounds():
    """Fix, in this process, the SMARTS bugs that crash or mislead a driving agent; call before
    making an env.

    Idempotent. Each process that runs SMARTS (e.g. every RLlib env runner) needs its own call.
    """
    fix_via_point_sorting()
    fix_suppress_output_double_close()


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
    if getattr(method, "sorts_via_points_by_distance", False):
        return
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
    namespace["__call__"].sorts_via_points_by_distance = True
    sensor.ViaSensor.__call__ = namespace["__call__"]


# The SMARTS modules that call `suppress_output` while simulating, by the name they imported.
SUPPRESS_OUTPUT_USERS = ("smarts.core.sumo_traffic_simulation", "smarts.core.utils.pybullet",
                         "smarts.core.utils.sumo_utils")


def fix_suppress_output_double_close():
    """Make SMARTS's `suppress_output` close each file descriptor once.

    Bug: `smarts.core.utils.core_logging.suppress_output`, which SMARTS wraps around every
    SUMO step, closes its /dev/null descriptor with `os.close` and then again through the file
    object it made of it, swallowing the second close's EBADF. If another thread opened a file
    in between, it got that descriptor number, and the second close closes *its* file: in a
    Tune trial that samples in-process (`env_runners.num_env_runners=0`), Tune's usage monitor
    thread then fails reading /proc and SMARTS's next `suppress_output` raises
    `OSError: [Errno 9] Bad file descriptor`, failing the trial.

    Work-around: the modules that use it get a `suppress_output` that redirects the same
    streams to /dev/null and closes every descriptor it opened exactly once.
    """
    import importlib

    for name in SUPPRESS_OUTPUT_USERS:
        module = importlib.import_module(name)
        if getattr(module, "suppress_output", None) is not _suppress_output:
            module.suppress_output = _suppress_output


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None)


@contextlib.contextmanager
def _suppress_output(stderr: bool = True, stdout: bool = True):
    """C and Python output to the chosen standard streams goes to /dev/null meanwhile."""
    redirected = []  # (stream, its descriptor, a copy of what the descriptor pointed to)
    try:
        for wanted, stream in ((stdout, sys.stdout), (stderr, sys.stderr)):
            try:
                fd = stream.fileno() if wanted else None
            except (AttributeError, OSError, ValueError):
                fd = None  # no real descriptor (a notebook's stream): leave it alone
            if fd is None:
                continue
            stream.flush()
            saved = os.dup(fd)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
            redirected.append((stream, fd, saved))
        yield
    finally:
        _libc().fflush(None)  # C output written meanwhile goes to /dev/null, not out later
        for stream, fd, saved in reversed(redirected):
            stream.flush()
            os.dup2(saved, fd)
            os.close(saved)


def ego_yaw_rate(ego) -> float:
    """SMARTS 2.0.1's `EgoVehicleObservation.yaw_rate` is not the yaw rate: it reads about
    3*pi/2 rad/s (4.71) at reset and stays near it while the heading barely changes. The
    z component of `angular_velocity` is the real yaw rate."""
    angular_velocity = ego.angular_velocity
    return float(angular_velocity[2]) if angular_velocity is not None else 0.0


def smarts_max_episode_steps(steps: int) -> int:
    """SMARTS 2.0.1 counts the reset observation as a completed step (`steps_completed` is 1
    after `reset()`), so an interface with `max_episode_steps=n` ends the episode after n - 1
    actions. Asking SMARTS for one more gives the agent exactly n actions."""
    return steps + 1
