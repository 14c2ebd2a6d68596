"""The processes one `train.py` run leaves behind, counted with psutil.

The run is started in a session of its own (`start_new_session=True`), so its processes are
told apart from other Ray instances and `sumo`s on the machine: those still in its session,
plus every process seen in its process tree while it ran (Ray's and sumo re-parented after
their parent's exit), recognised by pid and start time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
RAY_NAMES = ("raylet", "gcs_server", "ray::", "dashboard", "log_monitor", "monitor.py", "runtime_env", "default_worker")


def describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} {' '.join(process.cmdline())[:120] or process.name()}"
    except psutil.Error:
        return f"{process.pid} (gone)"


def is_sumo(process: psutil.Process) -> bool:
    try:
        return process.name().startswith("sumo")
    except psutil.Error:
        return False


def is_ray(process: psutil.Process) -> bool:
    try:
        text = process.name() + " " + " ".join(process.cmdline()[:3])
    except psutil.Error:
        return False
    return any(name in text for name in RAY_NAMES)


def first_iteration_reported(run_dir: Path) -> bool:
    return any(p.stat().st_size > 0 for p in (Path(run_dir) / "tune").glob("trial_*/result.json"))


class TrainRun:
    """`train.py` with `args` in its own session; `poll()` it while it runs to record its tree."""

    def __init__(self, *args: str, cwd: Path, script: Path = REPO / "train.py", env: dict | None = None):
        self.log = Path(cwd) / "train.out"
        with open(self.log, "w") as out:
            self.popen = subprocess.Popen(
                [sys.executable, str(script), *args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, **(env or {})},
            )
        self.seen: dict[int, float] = {}  # pid -> create_time
        self.kinds: set[str] = set()  # "sumo", "ray": what the run's tree was seen to hold
        self.poll()

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.popen.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def poll(self) -> list[psutil.Process]:
        """Records and returns the run's current process tree."""
        tree = self.tree()
        for process in tree:
            try:
                self.seen.setdefault(process.pid, process.create_time())
            except psutil.Error:
                continue
            if is_sumo(process):
                self.kinds.add("sumo")
            elif is_ray(process):
                self.kinds.add("ray")
        return tree

    def sumo(self) -> list[psutil.Process]:
        return [p for p in self.poll() if is_sumo(p)]

    def alive(self) -> list[psutil.Process]:
        """The run's processes that still exist (train.py itself excluded once it has exited)."""
        alive = {}
        for process in psutil.process_iter():
            try:
                if process.pid == self.popen.pid and self.popen.poll() is not None:
                    continue
                if self.seen.get(process.pid) == process.create_time() or os.getsid(process.pid) == self.popen.pid:
                    if process.status() != psutil.STATUS_ZOMBIE:
                        alive[process.pid] = process
            except (psutil.Error, OSError):
                pass
        return list(alive.values())

    def leftovers(self, grace_s: float = 20.0) -> list[str]:
        """The run's processes (sumo, Ray's, any other) still there `grace_s` after it ended."""
        deadline = time.monotonic() + grace_s
        while True:
            left = self.alive()
            if not left or time.monotonic() > deadline:
                return [describe(p) for p in left]
            time.sleep(0.5)

    def wait_until(self, ready, what: str, timeout: float = 400) -> None:
        """Polls `ready()` while the run goes on; fails if the run ends or time runs out first."""
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.popen.poll() is None, f"the run ended before {what}:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"no {what} within {timeout} s"
            time.sleep(0.2)

    def wait(self, timeout: float = 600) -> int:
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"train.py still running after {timeout} s:\n{self.output()[-3000:]}")
            self.poll()
            time.sleep(0.5)
        return self.popen.returncode

    def signal_group(self, sig: int) -> None:
        os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """Ends everything of the run (cleanup after a failed test)."""
        for process in self.alive():
            try:
                process.kill()
            except psutil.Error:
                pass
        self.popen.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
