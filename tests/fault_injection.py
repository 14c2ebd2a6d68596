"""`train.py` with a SmartsEnv whose steps raise: `python tests/fault_injection.py <train.py args>`.

`SMARTS_RL_TEST_FAULT=step:N` makes the N-th env step of every process that samples (each env
runner, and each restart of one) raise `InjectedFault`, once. With `SMARTS_RL_TEST_FAULT_ONCE=<file>`
only the first process to get there raises (and creates the file): the fault of one run, not of
every restart. Run it with the repository on PYTHONPATH so that Ray's workers import this module too.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # this checkout's smarts_rl, not an installed one
    sys.path.insert(0, str(REPO))

from smarts_rl.env import SmartsEnv  # noqa: E402

FAULT_VARIABLE = "SMARTS_RL_TEST_FAULT"
ONCE_VARIABLE = "SMARTS_RL_TEST_FAULT_ONCE"
_steps_in_this_process = 0


class InjectedFault(RuntimeError):
    pass


class FaultySmartsEnv(SmartsEnv):
    def step(self, action_dict):
        global _steps_in_this_process
        _steps_in_this_process += 1
        kind, _, when = os.environ.get(FAULT_VARIABLE, "").partition(":")
        if kind == "step" and _steps_in_this_process == int(when) and _first_in_the_run():
            raise InjectedFault(f"injected fault at step {_steps_in_this_process} of process {os.getpid()}")
        return super().step(action_dict)


def _first_in_the_run() -> bool:
    marker = os.environ.get(ONCE_VARIABLE)
    if not marker:
        return True
    try:
        Path(marker).touch(exist_ok=False)
    except FileExistsError:
        return False
    return True


def main() -> int:
    from smarts_rl import cli
    from smarts_rl.run import rllib_setup

    rllib_setup.SmartsEnv = FaultySmartsEnv  # what rllib_setup.register() registers
    return cli.main()


if __name__ == "__main__":
    from tests.fault_injection import main as main_in_module  # the class by its module's name, for Ray

    sys.exit(main_in_module())
