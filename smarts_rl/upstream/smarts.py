"""What smarts-rl works around or patches in SMARTS 2.0.1, one function each: the bugs met while
building scenarios, the patches that make training's simulations faster, the bound on the caches
that grow with every step, and the setting of SMARTS's private global seed.

The bugs that crash or mislead a driving agent are fixed in `smarts_rl/agents/smarts_fixes.py`,
which an exported agent ships with; the speed patches here are only applied where smarts-rl
simulates (`speed_up_simulation()`: our env and the benches' plain SMARTS), as is the bound on
SMARTS's point caches (`bound_point_caches()`). Each function's docstring names the bug;
``tests/test_workarounds.py`` shows each bug still exists and that the work-around avoids it,
``tests/test_speed_patches.py`` that the patched SMARTS drives exactly the episodes of SMARTS as
it ships (``tests/test_upstream.py`` guards the private global seed, the road-map index builders
and the point caches' names). Delete a work-around when its test says SMARTS no longer has the bug.
"""

import os
import shutil
import subprocess
import sys
from collections import OrderedDict
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


# -- speed patches (training's simulations; an exported agent drives correctly without them) ----


def speed_up_simulation():
    """Patch, in this process, what makes SMARTS slower than it needs to be; call before making
    an env. Idempotent; each process that runs SMARTS needs its own call. The episodes stay the
    same (tests/test_workarounds.py)."""
    reload_sumo_between_episodes()
    keep_each_road_map_of_a_set()
    scan_small_road_map_indexes()


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


# An index holding at most this many boxes is answered by a scan: faster than an rtree query
# below about 100 boxes (libspatialindex's leaf capacity), slower above.
SCAN_LIMIT = 100


def scan_small_road_map_indexes():
    """Make SMARTS's SUMO road map answer its small spatial queries by a scan instead of an rtree query.

    Bug (a cost): SMARTS 2.0.1 finds a point's nearest lanes (`SumoRoadNetwork.nearest_lanes`:
    each traffic vehicle's front and back at every step in SMARTS-engine traffic, the ego's
    lane in sensors) by an rtree query over the roads and then one per candidate lane over its
    shape's segments (`Lane.get_distance`). Each query of the `rtree` package costs 7-20 us in
    ctypes and Python however few boxes the index holds, and most of SMARTS's lanes have a few
    segments: 150k queries took 3 s of a 30-s loop run (10%).

    Work-around: the indexes that `SumoRoadNetwork._init_rtree` and `Lane._init_rtree` build
    are wrapped (`_ScannedIndex`) so that an index of at most `SCAN_LIMIT` boxes answers
    `intersection` by testing each box as libspatialindex does (inclusive bounds), in the
    order its tree lists them: the same ids in the same order, so every distance, tie and
    nearest lane is the same. Larger indexes, other query forms and anything else go to the
    rtree itself; an `add` (SMARTS adds to the roads' index as it meets new roads) goes to the
    rtree and makes the wrapper read the tree again at its next query.
    """
    from smarts.core.sumo_road_network import SumoRoadNetwork

    for owner in (SumoRoadNetwork, SumoRoadNetwork.Lane):
        build = owner._init_rtree
        if getattr(build, "scans_small_indexes", False):
            continue
        owner._init_rtree = _scanning(build)


def _scanning(build):
    def init_rtree(self, *args, **kwargs):
        return _ScannedIndex(build(self, *args, **kwargs))

    init_rtree.scans_small_indexes, init_rtree.original = True, build
    return init_rtree


class _ScannedIndex:
    """An `rtree.index.Index` whose small 2-D window queries are a scan of its boxes in the
    tree's order. A query of a window lists the tree's entries in the same relative order as a
    query of the whole index (libspatialindex walks its nodes depth first, children in a fixed
    order), so the scan of that full listing keeps exactly the ids a window query returns, in
    its order."""

    __slots__ = ("index", "_boxes")

    def __init__(self, index):
        self.index = index
        self._boxes = None  # [(id, xmin, ymin, xmax, ymax)] in the tree's order; False: too many to scan

    def intersection(self, coordinates, objects=False):
        boxes = self._boxes
        if boxes is None:
            boxes = self._boxes = self._read_boxes()
        if objects is not False or boxes is False or len(coordinates) != 4:
            return self.index.intersection(coordinates, objects)
        xmin, ymin, xmax, ymax = coordinates
        if xmin > xmax or ymin > ymax:  # the rtree's own error
            return self.index.intersection(coordinates, objects)
        # libspatialindex's test: disjoint if one low bound is above the other's high bound.
        return [i for i, low_x, low_y, high_x, high_y in boxes
                if not (low_x > xmax or high_x < xmin or low_y > ymax or high_y < ymin)]

    def _read_boxes(self):
        index = self.index
        if not index.interleaved or index.properties.dimension != 2:
            return False
        size = len(index)
        if size == 0:
            return []
        if size > SCAN_LIMIT:
            return False
        items = list(index.intersection(index.bounds, objects=True))
        if len(items) != size:
            return False
        return [(item.id, *item.bbox) for item in items]

    def add(self, *args, **kwargs):
        self._boxes = None
        return self.index.add(*args, **kwargs)

    insert = add

    def delete(self, *args, **kwargs):
        self._boxes = None
        return self.index.delete(*args, **kwargs)

    def __len__(self):
        return len(self.index)

    def __getattr__(self, name):
        if name == "index":  # not set yet (a copy being made): no endless lookup
            raise AttributeError(name)
        return getattr(self.index, name)


# -- memory (every process that simulates: training, evaluation, the benches) ---------------

# Entries kept in each of SMARTS's two point caches: a step's working set is a few hundred points.
POINT_CACHE_SIZE = 4096


class _OldestOutCache(OrderedDict):
    """A dict that forgets its oldest entry once it holds `size` entries."""

    def __init__(self, entries=(), size: int = POINT_CACHE_SIZE):
        self.size = size  # before the entries: each goes through __setitem__
        super().__init__(entries)

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


def bound_point_caches(size: int = POINT_CACHE_SIZE):
    """Make SMARTS's caches of points' numpy and shapely forms keep at most `size` entries each.

    Bug (memory that grows with every step): SMARTS 2.0.1 caches `Point.as_np_array` and
    `Point.as_shapely` in two module dicts, `smarts.core.coordinates._numpy_points` and
    `_shapely_points`, keyed by the point itself. `Point.__del__` is meant to drop a point's
    entries, but the dict's key holds the point alive, so it never runs for it: every point ever
    converted stays, with its array or shapely point. Vehicle positions, waypoints and goal
    checks are new points every step, so an env runner grew 3.5-6 MB per 1k env steps (48k
    entries after 1.5k steps on {loop, merge}), a few GB over a run of millions of steps.

    Work-around: replace both dicts by ones that forget their oldest entries beyond `size`
    (the same conversions, recomputed when needed again). Idempotent; each process needs its
    own call.
    """
    from smarts.core import coordinates

    for name in ("_numpy_points", "_shapely_points"):
        cache = getattr(coordinates, name)
        if not isinstance(cache, _OldestOutCache):
            setattr(coordinates, name, _OldestOutCache(cache, size))


# -- SMARTS's global seed ------------------------------------------------------------------


def restore_current_seed(seed) -> None:
    """Put back what `smarts.core.current_seed()` returned, without re-seeding Python's and
    numpy's global generators as `smarts.core.seed` also does (their states are restored on their
    own), so that two simulations taking turns in one process each keep their own seed (the
    `HiWayEnvV1.seed` they report). SMARTS 2.0.1 has no setter but `seed`: this sets the private
    module global `smarts.core._current_seed` (smarts/core/__init__.py)."""
    import smarts.core

    smarts.core._current_seed = seed
