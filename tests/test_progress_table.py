"""progress.csv reads with pandas into the same columns and values as result.json, one row per
iteration, after any resume; a table garbled by Tune's own CSV logger is repaired from result.json."""

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from smarts_rl.persisted import ProgressTable
from smarts_rl.run_dir.progress_table import read_table, repair_run, repair_trial, table_row
from smarts_rl.run_dir.trial_results import read_results


def same_value(cell, value) -> bool:
    """A cell as pandas reads it against the value result.json holds."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return pd.isna(cell)
    if isinstance(value, (list, str)):
        return cell == str(value)
    return cell == value


def assert_table_is_result_json(trial_dir: Path) -> list[int]:
    """progress.csv as pandas reads it holds result.json's rows (without config) under their own
    columns, each iteration once from 1; its iterations."""
    table = pd.read_csv(trial_dir / "progress.csv")
    rows = [table_row(r) for r in read_results(trial_dir)]
    assert set(table.columns) == {key for row in rows for key in row}
    assert len(table) == len(rows)
    for (_, cells), row in zip(table.iterrows(), rows):
        for column in table.columns:
            assert same_value(cells[column], row.get(column)), (column, cells[column], row.get(column))
    iterations = list(table["training_iteration"])
    assert iterations == list(range(1, len(iterations) + 1))
    return iterations


class FakeTrial(SimpleNamespace):
    """What the callback asks of a Tune trial: its local folder (and no checkpoint to restore the
    table from: it is already there)."""

    checkpoint = None

    def init_local_path(self):
        Path(self.local_path).mkdir(parents=True, exist_ok=True)

    __hash__ = object.__hash__


def result(iteration: int, new_key: bool = False) -> dict:
    runners = {"episode_return_mean": np.float32(0.1) * iteration, "hist": [1, 2], "none": None}
    if new_key:
        runners["reached_goal_rate"] = 0.5
    return {"training_iteration": iteration, "done": False, "config": {"lr": 0.001}, "env_runners": runners}


def session(trial_dir: Path, iterations, new_key_from: int | None = None) -> None:
    """One session of a trial: Tune's JSON logger and our table logger, result by result."""
    callback, trial = ProgressTable(), FakeTrial(local_path=str(trial_dir))
    for i in iterations:
        r = result(i, new_key_from is not None and i >= new_key_from)
        with open(trial_dir / "result.json", "a") as f:
            f.write(json.dumps(r, default=lambda o: o.item()) + "\n")
        callback.log_trial_result(i, trial, r)
    callback.log_trial_end(trial)


def test_resumed_sessions_keep_one_row_per_iteration_under_the_right_columns(tmp_path):
    session(tmp_path, [1, 2, 3])
    # Restored from iteration 2's checkpoint: 3 is trained again, and a key appears at 4.
    session(tmp_path, [3, 4, 5], new_key_from=4)
    session(tmp_path, [5, 6])
    assert assert_table_is_result_json(tmp_path) == [1, 2, 3, 4, 5, 6]
    assert [r["training_iteration"] for r in read_results(tmp_path)] == [1, 2, 3, 4, 5, 6]
    assert not repair_trial(tmp_path)  # already equal: left alone


def test_a_row_cut_short_by_a_kill_is_restored_from_result_json(tmp_path):
    session(tmp_path, [1, 2])
    path = tmp_path / "progress.csv"
    path.write_text(path.read_text()[:-7])  # killed while copying the last row
    session(tmp_path, [3])
    assert assert_table_is_result_json(tmp_path) == [1, 2, 3]


def old_tune_table(trial_dir: Path, sessions: list[list[dict]]) -> None:
    """What Tune 2.60's CSV logger wrote: the first session's header, then each session's rows in
    that session's own key order, without a header."""
    path = trial_dir / "progress.csv"
    for number, results in enumerate(sessions):
        with open(path, "a", newline="") as f:
            writer = None
            for r in results:
                row = table_row(_flat(r))
                if writer is None:
                    writer = csv.DictWriter(f, list(row))
                    if number == 0:
                        writer.writeheader()
                writer.writerow(row)
            with open(trial_dir / "result.json", "a") as out:
                for r in results:
                    out.write(json.dumps(r, default=lambda o: o.item()) + "\n")


def _flat(r: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in r.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value.item() if isinstance(value, np.generic) else value
    return flat


def test_a_table_garbled_by_tunes_csv_logger_is_rewritten_from_result_json(tmp_path):
    trial_dir = tmp_path / "tune" / "trial_a"
    trial_dir.mkdir(parents=True)
    resumed = [{"extra": 1.0, **result(i, new_key=True)} for i in (3, 4)]
    old_tune_table(trial_dir, [[result(1), result(2)], resumed])
    with pytest.raises(pd.errors.ParserError):
        pd.read_csv(trial_dir / "progress.csv")

    assert repair_run(tmp_path) == ["trial_a"]
    assert assert_table_is_result_json(trial_dir) == [1, 2, 3, 4]
    assert repair_run(tmp_path) == []


def test_a_garbled_table_with_as_many_fields_is_found_by_its_values(tmp_path):
    trial_dir = tmp_path / "tune" / "trial_a"
    trial_dir.mkdir(parents=True)
    # The resumed session's rows carry the same keys in another order.
    reordered = [dict(reversed(list(result(i).items()))) for i in (3, 4)]
    old_tune_table(trial_dir, [[result(1), result(2)], reordered])
    assert read_table(trial_dir / "progress.csv") is not None  # readable, but wrong

    assert repair_run(tmp_path) == ["trial_a"]
    assert assert_table_is_result_json(trial_dir) == [1, 2, 3, 4]


def garble_as_old_tune(trial_dir: Path) -> None:
    """progress.csv as Tune's own CSV logger left it after a resume: the first session's header and
    rows (here its first result lacked one key), then the resumed session's rows with all their keys."""
    first, *resumed = [table_row(r) for r in read_results(trial_dir)]
    first_keys = list(first)[:-1]
    with open(trial_dir / "progress.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, first_keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerow(first)
        for row in resumed:
            csv.DictWriter(f, list(row)).writerow(row)


@pytest.mark.slow
def test_a_run_resumed_twice_keeps_its_table_and_one_garbled_before_is_repaired(tmp_path):
    from tests.helpers import ONE_RUNNER, TINY
    from tests.test_driver_faults import train

    run_dir = tmp_path / "run"
    first = train("stop.training_iteration=2", *TINY, *ONE_RUNNER, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    [trial_dir] = (run_dir / "tune").glob("trial_*")
    assert assert_table_is_result_json(trial_dir) == [1, 2]
    garble_as_old_tune(trial_dir)
    with pytest.raises(pd.errors.ParserError):
        pd.read_csv(trial_dir / "progress.csv")

    for stop, repaired in ((3, True), (4, False)):
        resumed = train(f"resume={run_dir}", f"stop.training_iteration={stop}", cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        said = [line for line in resumed.stdout.splitlines() if "rewritten from result.json" in line]
        assert len(said) == (1 if repaired else 0), resumed.stdout[-2000:]
        assert assert_table_is_result_json(trial_dir) == list(range(1, stop + 1))
