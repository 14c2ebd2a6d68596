"""The Tune callback that writes each trial's `progress.csv` (smarts_rl/run_dir/progress_table.py),
in place of Tune's own CSV logger, whose rows after a resume sat under the wrong columns.

Each result is appended as a row while its keys fit the header and its iteration follows the last
row's; otherwise (a new key, or an iteration trained again after a resume) the table is rewritten
whole, with the wider header and without the rows from that iteration on. Values are those
result.json holds (the result as Tune's JSON logger encodes it), so the two files agree.

It subclasses Tune's `CSVLoggerCallback` so that Tune adds no CSV logger of its own beside it.
"""

from __future__ import annotations

from pathlib import Path

from ray.tune.logger import CSVLoggerCallback

from smarts_rl.run_dir.layout import PROGRESS_FILE
from smarts_rl.run_dir.progress_table import csv_text, read_table, repair_trial, table_row, write_table
from smarts_rl.run_dir.trial_results import ITERATION_KEY, as_resumed, flatten
from smarts_rl.upstream.tune import as_logged


class ProgressTable(CSVLoggerCallback):
    def __init__(self):
        super().__init__()
        self._tables: dict = {}  # trial -> [path, header, last iteration]

    def _open(self, trial) -> list:
        trial.init_local_path()
        path = Path(trial.local_path, PROGRESS_FILE)
        # Tune stages a trial's files on the driver and copies them into the run directory; a
        # restored trial starts from the run directory's copy.
        self._restore_from_remote(PROGRESS_FILE, trial)
        table = read_table(path)
        if table is None and path.exists():
            repair_trial(path.parent)  # cut short by a kill: result.json has every complete row
            table = read_table(path)
        header, rows = table or (None, [])
        last = rows[-1].get(ITERATION_KEY) if rows else None
        return [path, header, int(last) if last not in (None, "") else None]

    def log_trial_result(self, iteration: int, trial, result: dict):
        if trial not in self._tables:
            self._tables[trial] = self._open(trial)
        entry = self._tables[trial]
        path, header, last = entry
        row = table_row(flatten(as_logged(result)))
        current = row.get(ITERATION_KEY)
        if header is not None and set(row) <= set(header) and (last is None or current is None or current > last):
            with open(path, "a", newline="") as f:
                f.write(csv_text([row], header, with_header=False))
        else:
            entry[1] = write_table(path, self._rows_before(path, current) + [row], header)
        entry[2] = current

    @staticmethod
    def _rows_before(path: Path, iteration) -> list[dict]:
        """The table's rows (as text) that the result of `iteration` does not replace."""
        table = read_table(path)
        if table is None:
            return []
        rows = [{k: v for k, v in row.items() if v != ""} for row in table[1]]
        typed = [dict(row, **{ITERATION_KEY: int(row[ITERATION_KEY])}) if row.get(ITERATION_KEY) else row for row in rows]
        if iteration is None:
            return typed
        return as_resumed(typed + [{ITERATION_KEY: iteration}])[:-1]

    def log_trial_end(self, trial, failed: bool = False):
        self._tables.pop(trial, None)
