"""A run whose trials cannot start for want of CPUs says so once a minute, and gives up after
`ray.wait_for_resources_s` (exit 1; the run stays resumable).

On a cluster the CPUs a trial asks for may be taken by other jobs, or not there yet (an
autoscaler adding nodes): Tune then keeps the trials pending, and without this the console
showed nothing at all. A local run never waits: what it asks is checked against this machine
before Ray starts (smarts_rl/run/machine_fit.py).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from ray.tune import Callback

REPORT_EVERY_S = 60.0
# How long the run in this process may wait (`waiting_for_resources` sets it; None: for ever).
_give_up_after_s: float | None = None


class WaitedTooLongForResources(RuntimeError):
    """No trial could start within `ray.wait_for_resources_s`."""


@contextmanager
def waiting_for_resources(give_up_after_s: float | None):
    """While the block runs, `ResourceWait` gives up after `give_up_after_s` (None: never)."""
    global _give_up_after_s
    before, _give_up_after_s = _give_up_after_s, give_up_after_s
    try:
        yield
    finally:
        _give_up_after_s = before


def needed_cpus(trial) -> float:
    return float(trial.placement_group_factory.required_resources.get("CPU", 0.0))


def waiting_line(pending: list, waited_s: float) -> str:
    import ray

    free = ray.available_resources().get("CPU", 0.0)
    total = ray.cluster_resources().get("CPU", 0.0)
    needs = sorted({needed_cpus(t) for t in pending})
    each = " or ".join(f"{n:g}" for n in needs)
    return (f"waiting for CPUs: {len(pending)} trial(s) cannot start, each needs {each} CPUs; "
            f"Ray has {free:g} of {total:g} CPUs free ({waited_s / 60:.1f} min so far)")


class ResourceWait(Callback):
    """Built by Tune by its name (smarts_rl/run/job.py): never pickled with the experiment."""

    def __init__(self):
        self._since: float | None = None
        self._reported = 0.0

    def on_step_end(self, iteration: int, trials: list, **info) -> None:
        pending = [t for t in trials if t.status == "PENDING"]
        if not pending or any(t.status == "RUNNING" for t in trials):
            self._since = None
            return
        now = time.monotonic()
        if self._since is None:
            self._since = self._reported = now
            return
        waited = now - self._since
        give_up = _give_up_after_s is not None and waited >= _give_up_after_s
        if give_up:
            raise WaitedTooLongForResources(
                f"{waiting_line(pending, waited)}: gave up after ray.wait_for_resources_s={_give_up_after_s:g}")
        if now - self._reported >= REPORT_EVERY_S:
            self._reported = now
            print(waiting_line(pending, waited), flush=True)
