"""SIGTERM ends a run as Ctrl-C does.

Batch schedulers (a time limit) and Kubernetes (a preemption) stop a job with SIGTERM. Within
`interrupt_on_sigterm()`, SIGTERM is handed to the process's SIGINT handler: Tune's own while
`fit()` runs (it stops the trials and saves the latest results and the experiment state), else
Python's (KeyboardInterrupt). Either way the job writes summary.json with status "interrupted",
and `python train.py resume=<dir>` continues the run.

Light on purpose: `train.py` installs it before Hydra runs, also for answers that start no run.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager

_sigterm = threading.Event()


@contextmanager
def interrupt_on_sigterm():
    """SIGTERM to this process interrupts the run (main thread only); `sigterm_received()` says
    whether one came."""
    _sigterm.clear()
    if threading.current_thread() is not threading.main_thread():  # signal.signal would raise
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def sigterm_received() -> bool:
    return _sigterm.is_set()


def interrupts_the_run(handler) -> bool:
    """Whether `handler` (a SIGTERM handler) is this module's."""
    return handler is _on_sigterm


def _on_sigterm(signum, frame) -> None:
    if not _sigterm.is_set():
        # os.write: print() could find stderr's buffer in use by the code this signal interrupted.
        os.write(sys.stderr.fileno(), b"SIGTERM: stopping the run; its latest results and state are saved first\n")
    _sigterm.set()
    interrupt = signal.getsignal(signal.SIGINT)
    if callable(interrupt):  # Tune's handler during fit(), else Python's (KeyboardInterrupt)
        interrupt(signal.SIGINT, frame)
