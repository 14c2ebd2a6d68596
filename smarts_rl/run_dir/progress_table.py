"""A trial's `progress.csv`: the table of its results, kept equal to its `result.json`.

One row per iteration (the last one written for an iteration trained again after a resume, as
`read_results` keeps it), one column per flattened result key except the trial's `config/*`,
as Tune names them (`env_runners/episode_return_mean`). The header is the union of every row's
keys: a key that first appears later (an episode's first return, a resume's new metric) rewrites
the file with the wider header, so `pandas.read_csv` reads every row under its own columns.
Values are written as Python's csv module writes them (None as an empty field).

Tune's own CSV logger appends rows under the header of the trial's first session whatever keys
they carry, so a resumed run's table had its values under the wrong columns; `repair_run`
rewrites such a table from `result.json` when a run resumes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from smarts_rl.run_dir.atomic_file import write_atomically
from smarts_rl.run_dir.layout import PROGRESS_FILE, experiment_dir
from smarts_rl.run_dir.trial_results import read_results

CONFIG_PREFIX = "config/"


def table_row(result: dict) -> dict:
    """A flattened result as progress.csv holds it: without the trial's config."""
    return {key: value for key, value in result.items() if not key.startswith(CONFIG_PREFIX)}


def union_header(rows: list[dict], header: list[str] | None = None) -> list[str]:
    """`header`, then every key of `rows` it lacks, in the order first seen."""
    keys = dict.fromkeys(header or [])
    for row in rows:
        keys.update(dict.fromkeys(row))
    return list(keys)


def csv_text(rows: list[dict], header: list[str], with_header: bool = True) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, restval="")
    if with_header:
        writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_table(path: Path, rows: list[dict], header: list[str] | None = None) -> list[str]:
    """The whole table, written beside and renamed into place (a kill leaves the old file or the
    new); its header."""
    header = union_header(rows, header)
    write_atomically(path, csv_text(rows, header))
    return header


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]] | None:
    """The header and rows (each value as its text), or None if the file is not one table: a row
    with another number of fields than the header, or a last line cut short by a kill."""
    path = Path(path)
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        text = f.read()
    if not text.endswith("\n"):
        return None
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if not lines or len(set(lines[0])) != len(lines[0]):
        return None
    header, body = lines[0], lines[1:]
    if any(len(fields) != len(header) for fields in body):
        return None
    return header, [dict(zip(header, fields)) for fields in body]


def as_text(row: dict, header: list[str]) -> dict[str, str]:
    """A row's values as csv writes them, under every column of `header`."""
    [line] = csv.DictReader(io.StringIO(csv_text([row], header, with_header=False)), fieldnames=header)
    return dict(line)


def repair_trial(trial_dir: Path) -> bool:
    """Rewrite the trial's progress.csv from its result.json unless it already holds the same rows
    and values; whether it was rewritten. A trial without results is left alone."""
    rows = [table_row(r) for r in read_results(trial_dir)]
    if not rows:
        return False
    path = Path(trial_dir) / PROGRESS_FILE
    table = read_table(path)
    if table is not None:
        header, existing = table
        if set(header) == set(union_header(rows)) and existing == [as_text(row, header) for row in rows]:
            return False
    write_table(path, rows)
    return True


def repair_run(run_dir: Path) -> list[str]:
    """`repair_trial` for each trial of the run; the folder names of those rewritten."""
    trial_dirs = sorted(p for p in experiment_dir(run_dir).glob("*/") if p.is_dir())
    return [trial_dir.name for trial_dir in trial_dirs if repair_trial(trial_dir)]
