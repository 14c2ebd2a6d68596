"""Where the CPU of a run goes: each process of a tree, its CPU seconds over a time window.

A `TreeSampler` walks a process and all its descendants (psutil) about once a second, and
whenever asked to, and keeps each process's CPU time (user + system, its own, not its
children's) at every sample. A process that ends keeps its last sample: a `sumo` that SMARTS
restarts, or an env runner a trial restarts, still counts, short of its last second.
`cpu_seconds` reads a process's CPU time between two moments, interpolating between samples
(a process's CPU time is 0 when it is created), so a window need not fall on a sample.

Each process is sorted into a kind by its name and command line (`kind`): the tree's root
(`driver`, the `train.py` process), `trial` (a Ray actor of the run other than an env runner, e.g. `ray::PG`), `env_runner`
(`ray::...Runner`), `plain` (a `multiprocessing` child of the root: the limit's plain SMARTS), `sumo`,
`python_child` (a `multiprocessing` child of another process, e.g. SMARTS's junction check), `ray:<name>`
(Ray's own processes: raylet, gcs_server, dashboard, agents, log monitor, idle workers) and
`other:<name>`. `cpu_per_1k_steps` sums them per kind, with each env runner, plain process and
the `sumo`s and Python children each of them started also on their own.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import psutil

SAMPLE_INTERVAL_S = 1.0

# Ray's daemons, by the executable's or the Python script's name.
RAY_EXECUTABLES = {"raylet": "raylet", "gcs_server": "gcs_server"}
RAY_SCRIPTS = {"dashboard.py": "dashboard", "agent.py": "dashboard_agent", "log_monitor.py": "log_monitor",
               "monitor.py": "monitor", "main.py": "runtime_env_agent", "setup_worker.py": "setup_worker",
               "default_worker.py": "starting_worker"}
# Ray's own actors (their process titles are `ray::<name>`), and an actor process waiting for work.
RAY_ACTORS = {"DashboardAgent": "dashboard_agent", "RuntimeEnvAgent": "runtime_env_agent", "IDLE": "idle_worker"}
# Processes that an env runner or a plain SMARTS process starts, reported per process that started them:
# SMARTS's `sumo`, and its Python children (SumoRoadNetwork checks a map's junctions in one).
CHILDREN = ("sumo", "python_child")
# A Ray worker starting or idle may become an actor later: its kind is read again at each sample.
PROVISIONAL = ("ray:idle_worker", "ray:starting_worker", "ray:setup_worker")


def kind(name: str, cmdline: list[str]) -> str:
    """The kind of a process below the root, from its name (`/proc/<pid>/comm`) and command line
    (Ray's workers set it to their title, `ray::<actor class>[.<method>]`)."""
    if name == "sumo" or (cmdline and os.path.basename(cmdline[0]) == "sumo"):
        return "sumo"
    first = cmdline[0] if cmdline else ""
    if first.startswith("ray-dashboard"):  # the dashboard's modules, each in a process of its own
        return "ray:dashboard"
    if first.startswith("ray::"):
        actor = first[len("ray::"):].split(" ")[0].split(".")[0]
        if actor in RAY_ACTORS:
            return f"ray:{RAY_ACTORS[actor]}"
        return "env_runner" if actor.endswith("Runner") else "trial"
    if name in RAY_EXECUTABLES:
        return f"ray:{RAY_EXECUTABLES[name]}"
    scripts = [arg for arg in cmdline if arg.endswith(".py") and f"{os.sep}ray{os.sep}" in arg]
    if scripts:
        script = os.path.basename(scripts[0])
        return f"ray:{RAY_SCRIPTS.get(script, script.removesuffix('.py'))}"
    if any("multiprocessing" in arg and "spawn_main" in arg for arg in cmdline):
        return "plain"
    return f"other:{name}"


@dataclass
class Process:
    """One process as sampled: its kind (an actor's replaces an idle worker's, `PROVISIONAL`),
    its parent's pid, and its CPU seconds at sample times (wall clock, `time.time()`)."""

    pid: int
    ppid: int
    created: float
    kind: str
    samples: list[tuple[float, float]] = field(default_factory=list)


def cpu_seconds(process: Process, start: float, end: float) -> float:
    """The process's CPU seconds between `start` and `end` (wall clock)."""
    return max(0.0, _cpu_at(process, end) - _cpu_at(process, start))


def _cpu_at(process: Process, moment: float) -> float:
    """CPU seconds used by `moment`: linear between samples, 0 at creation, the last sample after it."""
    points = [(process.created, 0.0), *process.samples]
    if moment <= points[0][0]:
        return 0.0
    for (t0, c0), (t1, c1) in zip(points, points[1:]):
        if moment <= t1:
            return c0 + (c1 - c0) * (moment - t0) / (t1 - t0) if t1 > t0 else c1
    return points[-1][1]


class TreeSampler:
    """Samples the process `root` and its descendants, in a thread (`with TreeSampler(pid) as s:`)
    and on `sample()`. Processes seen once stay in `processes`, keyed by (pid, creation time)."""

    def __init__(self, root: int, root_kind: str = "driver", interval_s: float = SAMPLE_INTERVAL_S,
                 on_sample: Callable[[float], None] | None = None):
        self.root, self.root_kind = root, root_kind
        self.interval_s = interval_s
        self.on_sample = on_sample
        self.processes: dict[tuple[int, float], Process] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "TreeSampler":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> float:
        """Sample the tree now; returns the sample's time."""
        with self._lock:
            try:
                root = psutil.Process(self.root)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
            now = time.time()
            for process in tree:
                self._record(process, now)
        if self.on_sample is not None:
            self.on_sample(now)
        return now

    def _record(self, process: psutil.Process, now: float) -> None:
        try:
            with process.oneshot():
                created = process.create_time()
                times = process.cpu_times()
                key = (process.pid, created)
                seen = self.processes.get(key)
                if seen is None or seen.kind in PROVISIONAL:
                    found = self.root_kind if process.pid == self.root else kind(process.name(), process.cmdline())
                    if self._started_by_smarts(found, process.ppid()):
                        found = "python_child"
                    if seen is None:
                        seen = self.processes[key] = Process(process.pid, process.ppid(), created, found)
                    seen.kind = found
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return
        seen.samples.append((now, times.user + times.system))


    def _started_by_smarts(self, found: str, ppid: int) -> bool:
        """A Python child that a process of the run started (SMARTS's, see CHILDREN): spawned, it
        looks like a plain SMARTS process below another than the root; forked, like its parent."""
        parents = [p.kind for (pid, _), p in self.processes.items() if pid == ppid]
        if found == "plain":
            return ppid != self.root
        return found in ("env_runner", "trial") and bool(parents) and parents[-1] in (found, "python_child")


def cpu_per_1k_steps(processes: list[Process], window: Callable[[Process], tuple[float, float]], steps: int) -> dict:
    """CPU seconds per 1,000 env steps of each kind of process, each in its `window(process)`.

    `by_kind` sums the kinds (`env_runner`, `plain`, `sumo`, each `ray:<name>`, ...), `ray` and
    `total` the Ray processes and all of them; `each` gives every env runner and plain process
    (numbered in order of creation) and the `sumo`s and Python children each started, on their own."""
    per_process = {(p.pid, p.created): cpu_seconds(p, *window(p)) * 1000 / steps for p in processes}
    by_kind: dict[str, float] = defaultdict(float)
    for p in processes:
        by_kind[p.kind] += per_process[(p.pid, p.created)]
    numbered = {}
    for k in ("env_runner", "plain"):
        for i, p in enumerate(sorted((p for p in processes if p.kind == k), key=lambda p: p.created), start=1):
            numbered[p.pid] = f"{k} {i}"
    each: dict[str, float] = defaultdict(float)
    for p in processes:
        if p.pid in numbered and p.kind in ("env_runner", "plain"):
            each[numbered[p.pid]] += per_process[(p.pid, p.created)]
        elif p.kind in CHILDREN:
            each[f"{p.kind} of {numbered.get(p.ppid, 'another process')}"] += per_process[(p.pid, p.created)]
    return {
        **{k: round(v, 3) for k, v in sorted(by_kind.items())},
        "ray": round(sum(v for k, v in by_kind.items() if k.startswith("ray:")), 3),
        "total": round(sum(by_kind.values()), 3),
        "each": {k: round(v, 3) for k, v in sorted(each.items())},
    }
