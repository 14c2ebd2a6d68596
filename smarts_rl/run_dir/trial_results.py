"""A Tune trial's results: the figures read from one result, and one flat dict per reported
iteration read from the trial's `result.json`.

`result.json` has one self-describing JSON object per line, appended as each result arrives, so
it is the trial's record (progress.csv is kept equal to it: smarts_rl/run_dir/progress_table.py).
After a resume it can hold an iteration twice: a kill after a result was written but before the
next checkpoint makes the resumed trial train that iteration again. The resumed run continued from
the second, so the readers here keep the last row of each iteration.
Keys are flattened with "/" as in progress.csv (`env_runners/episode_return_mean`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from smarts_rl.run_dir.layout import RESULT_FILE

ENV_RUNNER_KEY = "env_runners"
RETURN_KEY = (ENV_RUNNER_KEY, "episode_return_mean")
STEPS_KEY = (ENV_RUNNER_KEY, "num_env_steps_sampled_lifetime")
ITER_STEPS_KEY = (ENV_RUNNER_KEY, "num_env_steps_sampled")
# The same keys flattened, as progress.csv, `flatten` and Tune's `metric` name them.
RETURN_COLUMN = "/".join(RETURN_KEY)
STEPS_COLUMN = "/".join(STEPS_KEY)


def nested(result: dict, path: tuple, default=None):
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return default
        result = result[key]
    return result


def short_name(trial_id: str) -> str:
    """Tune numbers a run's trials `<experiment prefix>_00000`, `_00001`, ...: the number is enough."""
    match = re.fullmatch(r"[0-9a-f]+_(\d+)", trial_id)
    return str(int(match.group(1))) if match else trial_id


def env_steps(result: dict) -> int:
    steps = nested(result, STEPS_KEY)
    if steps is None:
        steps = result.get("num_env_steps_sampled_lifetime", 0)
    return int(steps or 0)


def episode_return(result: dict) -> float | None:
    value = nested(result, RETURN_KEY)
    return None if value is None else float(value)


def flatten(result: dict, prefix: str = "", sep: str = "/") -> dict:
    """Nested dicts as one level of `a/b/c` keys (or another separator)."""
    flat = {}
    for key, value in result.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}{sep}", sep))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


ITERATION_KEY = "training_iteration"


def read_results(trial_dir: Path) -> list[dict]:
    """The trial's result of each iteration, oldest first ([] before its first result): the last
    row written for an iteration trained again after a resume (`as_resumed`). A line cut short by
    a killed run is skipped."""
    path = Path(trial_dir) / RESULT_FILE
    if not path.is_file():
        return []
    results = []
    for line in path.read_text().splitlines():
        try:
            results.append(flatten(json.loads(line)))
        except json.JSONDecodeError:
            continue
    return as_resumed(results)


def as_resumed(rows: list[dict]) -> list[dict]:
    """Rows in the order written, where a row of an iteration already seen replaces the rows from
    that iteration on: the trial was restored from an earlier checkpoint and trained them again."""
    kept: list[dict] = []
    for row in rows:
        iteration = row.get(ITERATION_KEY)
        if iteration is not None:
            while kept and kept[-1].get(ITERATION_KEY) is not None and kept[-1][ITERATION_KEY] >= iteration:
                kept.pop()
        kept.append(row)
    return kept
