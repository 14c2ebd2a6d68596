"""A Tune trial's results, one flat dict per reported iteration, read from its `result.json`.

Why not `progress.csv`: when a run resumes, Tune appends rows whose columns are in a new order
(and sometimes one more of them) under the first session's header, so every value after the
resume can sit in the wrong column. `result.json` has one self-describing JSON object per line.
Keys are flattened with "/" as in progress.csv (`env_runners/episode_return_mean`).
"""

from __future__ import annotations

import json
from pathlib import Path

RESULT_FILE = "result.json"


def flatten(result: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in result.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read_results(trial_dir: Path) -> list[dict]:
    """Every result line of the trial, oldest first ([] before its first result). A line cut
    short by a killed run is skipped."""
    path = Path(trial_dir) / RESULT_FILE
    if not path.is_file():
        return []
    results = []
    for line in path.read_text().splitlines():
        try:
            results.append(flatten(json.loads(line)))
        except json.JSONDecodeError:
            continue
    return results
