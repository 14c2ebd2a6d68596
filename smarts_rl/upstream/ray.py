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

