"""User mistakes become one readable line and exit code 2, never a traceback."""

from __future__ import annotations

import re
import sys

from hydra.errors import HydraException, MissingConfigException
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

USAGE_EXIT_CODE = 2


class UsageError(Exception):
    """Something the user asked for cannot work; the message says what and where."""


def one_line(exc: BaseException) -> str:
    """The useful part of a Hydra / OmegaConf / validation error, on one line."""
    if isinstance(exc, MissingConfigException):
        # "In 'config': Could not find 'algo/nope'\n\nAvailable options in 'algo':\n\tpg\n..."
        text = str(exc)
        missing = re.search(r"Could not find '([^']+)'", text)
        options = re.search(r"Available options in '([^']+)':\n((?:\t.*\n?)*)", text)
        if missing and options:
            choices = ", ".join(o.strip() for o in options.group(2).splitlines() if o.strip())
            return f"unknown option '{missing.group(1)}'; available options in '{options.group(1)}': {choices}"
    cause = exc.__cause__ if isinstance(exc, HydraException) and exc.__cause__ else exc
    if isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None)
        message = (getattr(cause, "msg", None) or str(cause)).splitlines()[0]
        if isinstance(cause, (ConfigKeyError, AttributeError)) and key:
            return f"unknown key '{key}' ({message})"
        return f"{key}: {message}" if key else message
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(line for line in lines if not line.startswith("See https://")) or type(exc).__name__


def exit_with(message: str, program: str) -> None:
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(USAGE_EXIT_CODE)
