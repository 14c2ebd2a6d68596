"""The SMARTS 2.0.1 fixes a trained agent needs while it drives, one function per bug.

They live here, beside the observation encoder and the agent interface that use them, because
`export` ships this folder as the trained agent's package: an exported agent needs the same fixes
as training did, without smarts-rl. Call `apply_runtime_workarounds()` in each process that
runs SMARTS before making an env (our env and benches do). The fixes needed to build scenarios
are in `smarts_rl/upstream/smarts.py`.

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
    """Fix, in this process, the SMARTS bugs that bite while simulating; call before making an env.

    Idempotent. Each process that runs SMARTS (e.g. every RLlib env runner) needs its own call.
    """
    fix_via_point_sorting()
    fix_suppress_output_double_close()
    reload_sumo_between_episodes()
    keep_each_road_map_of_a_set()


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


# The SUMO releases whose in-process reload (`traci.load`) we checked gives the same episodes.
SUMO_RELOAD_CHECKED = ("1.28.",)


def reload_sumo_between_episodes():
    """Make SMARTS reload its running `sumo` at an episode's reset instead of starting a new one.

    Bug (a cost, not a crash): SMARTS 2.0.1 starts a fresh `sumo` process at every reset once
    SUMO is newer than 1.12 (`TraciConn.must_reset`, "some versions of sumo crash when
    reloading"): spawning it, loading the map and routes and polling its TraCI port every 50 ms
    cost 0.25-0.35 s, several times what the rest of a reset costs. SUMO 1.28 reloads the same
    simulation in place (`traci.load`, which SMARTS already uses below 1.12) and drives exactly
    the same episodes (tests/test_workarounds.py). SMARTS still starts a new `sumo` every 50
    reloads, whenever the map changes, and after a lost connection.

    Work-around: `must_reset` is false for the SUMO releases in `SUMO_RELOAD_CHECKED`.
    """
    import importlib.metadata

    from smarts.core.utils import sumo_utils

    try:
        sumo_release = importlib.metadata.version("eclipse-sumo")
    except importlib.metadata.PackageNotFoundError:  # SUMO from elsewhere: an unchecked release
        return
    if not sumo_release.startswith(SUMO_RELOAD_CHECKED):
        return
    if getattr(sumo_utils.TraciConn.must_reset, "reloads_sumo", False):
        return
    original = sumo_utils.TraciConn.must_reset

    def must_reset(self) -> bool:
        return False

    must_reset.reloads_sumo, must_reset.original = True, original
    sumo_utils.TraciConn.must_reset = must_reset


# SUMO road maps built in this process, by what makes two map specs build the same map.
_ROAD_MAPS: dict = {}


def keep_each_road_map_of_a_set():
    """Make SMARTS build each SUMO road map once per process, and never run a full collection for it.

    Bug (a cost that grows): SMARTS 2.0.1's default map builder (`default_map_builder.get_road_map`)
    keeps one road map. A scenario on another map, which a set of scenarios brings at nearly
    every reset, makes it drop the old map, run `gc.collect()` and build the new one: read the
    net.xml, fork a process to check its junctions, recompute its lane points. On {loop, merge}
    that was 0.35 s of a 0.47-s reset, 0.2 s of it the full collection in a 0.5 GB process. A collection's
    cost grows with the live objects, so in env runners (torch, RLlib, a growing heap) a set
    run's resets kept getting slower: 128 env steps/s fell to 65-85 over a 300k-step run.

    Work-around: `SumoRoadNetwork.from_spec` returns the map it built before for the same spec,
    and dropping the builder's one cached map no longer collects: the maps stay referenced
    here (one per scenario map of the set, the same objects SMARTS reuses within a scenario).
    """
    from smarts.core import default_map_builder
    from smarts.core.sumo_road_network import SumoRoadNetwork

    build = SumoRoadNetwork.from_spec
    if getattr(build, "keeps_each_map", False):
        return

    def from_spec(cls, map_spec):
        # The map file's state too: a map written again at the same path is built again.
        key = (map_spec.source, _file_state(map_spec.source), map_spec.lanepoint_spacing,
               map_spec.default_lane_width, map_spec.shift_to_origin)
        if key not in _ROAD_MAPS:
            road_map = build.__func__(cls, map_spec)
            if road_map is None:  # SMARTS's way of saying the map could not be read: not kept
                return None
            _ROAD_MAPS[key] = road_map
        return _ROAD_MAPS[key]

    def forget_current_map():
        default_map_builder._existing_map = None

    from_spec.keeps_each_map, from_spec.original = True, build
    forget_current_map.original = default_map_builder._clear_cache
    SumoRoadNetwork.from_spec = classmethod(from_spec)
    default_map_builder._clear_cache = forget_current_map


def _file_state(source: str) -> tuple | None:
    """(modification time, size) of a map spec's SUMO map: the folder's map.net.xml or the file."""
    path = os.path.join(source, "map.net.xml") if os.path.isdir(source) else source
    try:
        state = os.stat(path)
    except OSError:
        return None
    return state.st_mtime_ns, state.st_size


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
