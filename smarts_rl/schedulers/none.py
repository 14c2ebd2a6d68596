"""`scheduler=none`: one trial, run to its stop condition (Tune's FIFO scheduler)."""

from dataclasses import dataclass

from smarts_rl.schedulers.contract import Scheduler


@dataclass
class Settings(Scheduler):
    """`conf/scheduler/none.yaml`."""

    name: str = "none"
