"""What smarts-rl takes from Ray core's internals (Ray 2.60.0): private modules and logger names.

Nothing here imports Ray at module level: the commands' `--help` and bad input must answer
before Ray loads (tests/test_fast_answers.py).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

# Ray's own module names, as their loggers are named (`logging.getLogger(__name__)`).
AUTH_TOKEN_SETUP_LOGGER = "ray._private.authentication.authentication_token_setup"
DEPRECATION_LOGGER = "ray._common.deprecation"


def dashboard_dependency_error() -> ImportError | None:
    """Why Ray's dashboard cannot start here (its extra packages are missing), or None.

    Ray 2.60.0 has no public check: `ray.init(include_dashboard=True)` without `ray[default]`
    starts Ray and then fails. This calls `ray._private.utils.get_dashboard_dependency_error`
    (ray/_private/utils.py), the check `ray.init` itself makes before it starts the dashboard."""
    from ray._private.utils import get_dashboard_dependency_error

    return get_dashboard_dependency_error()


def quiet_auth_token_notice() -> None:
    """Hide the warning that token authentication is on, which Ray 2.60.0 logs at every
    `ray.init` from `ray/_private/authentication/authentication_token_setup.py` (the logger of
    that private module, by its name)."""
    logging.getLogger(AUTH_TOKEN_SETUP_LOGGER).setLevel(logging.ERROR)


@contextmanager
def quiet_deprecations():
    """RLlib 2.60.0 logs a deprecation notice about its own default modules whenever it builds
    one (`RLModule.from_checkpoint`, `MultiRLModuleSpec.build`), through the logger of the private
    module `ray/_common/deprecation.py`: silenced while the block runs."""
    deprecations = logging.getLogger(DEPRECATION_LOGGER)
    level = deprecations.level
    deprecations.setLevel(logging.ERROR)
    try:
        yield
    finally:
        deprecations.setLevel(level)


def start_ray_processes_in_their_own_process_group() -> None:
    """Make each process a local `ray.init` starts from now on, in this process, the leader of a
    process group of its own, out of the driver's group (in the driver's session still).

    Why: a batch scheduler's time limit (`timeout`, a shell's `kill -TERM -<pgid>`) sends SIGTERM
    to the whole process group. Ray 2.60.0 starts its processes (gcs_server, raylet and, through
    the raylet, every worker and the `sumo`s they run) in the driver's group, blocking only SIGINT
    in them (`ray._private.services.start_ray_process`, its `preexec_fn`). So the group's SIGTERM
    ended the trials and env runners before the driver could save anything, each printing Ray's
    native `*** SIGTERM received ... PC: @` stack. In groups of their own only the driver gets it:
    it stops the run as Ctrl-C does (smarts_rl/run/sigterm.py) and `ray.shutdown()` ends them.
    They stay in the driver's session, so whatever ends a session (a closed terminal, a machine's
    kill of the job's session) still ends them at once, and they die with the driver
    (`set_kill_on_parent_death_linux`, which Ray applies in the same `preexec_fn`) if it is
    killed outright.

    How: `start_ray_process` starts every process through the module's `ConsolePopen`, looked up
    at each call; this replaces it with a subclass that passes `process_group=0`."""
    from ray._private import services

    if getattr(services.ConsolePopen, "own_process_group", False):
        return

    class OwnProcessGroupPopen(services.ConsolePopen):
        own_process_group = True

        def __init__(self, *args, **kwargs):
            kwargs["process_group"] = 0
            super().__init__(*args, **kwargs)

    services.ConsolePopen = OwnProcessGroupPopen
