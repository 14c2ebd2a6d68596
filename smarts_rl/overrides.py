"""Command-line overrides (`key=value`, Hydra's grammar) made safe to hand on: the scenario folders
they name pinned to absolute paths, since trials, env runners and a later `evaluate` do not share
the cwd the command was started in."""

from __future__ import annotations

import os
import re
from pathlib import Path

from smarts_rl.run.resume import override_key


def absolute_scenario_path(overrides: list[str], cwd: Path) -> list[str]:
    """Trials, env runners and a later `evaluate` do not share our cwd: pin `scenario.path` and
    the folders of `scenario.set` to absolute paths."""
    out = []
    for override in overrides:
        if override_key(override) == "scenario.path" and "=" in override:
            key, value = override.split("=", 1)
            if value not in ("", "null") and "," not in value and not os.path.isabs(os.path.expanduser(value)):
                value = str((cwd / value).resolve())
            override = f"{key}={value}"
        elif override_key(override) == "scenario.set" and "=" in override:
            override = _absolute_set(override, cwd)
        out.append(override)
    return out


def _absolute_set(override: str, cwd: Path) -> str:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from smarts_rl.scenarios.sets import absolute_entries

    [parsed] = OverridesParser.create().parse_overrides([override])
    value = parsed.value()
    if parsed.is_sweep_override() or not isinstance(value, list):
        return override  # a sweep over sets, or not a list: left to the schema to judge
    entries = absolute_entries([str(v) for v in value], cwd)
    return f"{override.split('=', 1)[0]}=[{','.join(map(quoted, entries))}]"


def quoted(value: str) -> str:
    """`value` as a quoted string of Hydra's override grammar, taken as it is (commas, `~`, `=`...)."""
    # Hydra reads backslashes as escapes only before a quote (and the closing one).
    body = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    return "'" + re.sub(r"(\\+)$", lambda m: m.group(1) * 2, body) + "'"


def override_value(value) -> str:
    """A Python value as an override's value: null, true/false, and numbers and strings as YAML reads them."""
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
