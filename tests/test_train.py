"""`train.py` end to end on real Ray, SMARTS and SUMO, with tiny budgets."""

import csv
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from smarts_rl.run_dir.trial_results import read_results, short_name
from tests.helpers import ONE_RUNNER, TINY, sumo_children

REPO = Path(__file__).resolve().parent.parent


def train(*args, cwd, timeout=600):
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_default_run_with_an_override_writes_a_complete_run_directory(tmp_path):
    run_dir = tmp_path / "run"
    result = train("stop.training_iteration=2", "algo.lr=0.0123", *TINY, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert (summary["algo"], summary["scheduler"], summary["scenario"]) == ("pg", "none", "loop")
    [trial] = summary["trials"]
    assert trial["training_iteration"] == 2 and trial["env_steps"] >= 200
    assert trial["config"]["lr"] == pytest.approx(0.0123)
    assert Path(trial["checkpoint"]).is_absolute() and Path(trial["checkpoint"]).is_dir()
    assert summary["best"]["trial_id"] == trial["trial_id"]

    trial_dir = Path(trial["path"])
    assert trial_dir.parent == run_dir / "tune"
    rows = read_results(trial_dir)
    assert [r["training_iteration"] for r in rows] == [1, 2]
    # The lr the optimizer used, as the learner reports it.
    assert rows[-1]["learners/shared/policy_learning_rate"] == pytest.approx(0.0123)
    for metric in ("collision_rate", "off_road_rate", "reached_goal_rate", "mean_speed"):
        assert f"env_runners/driving/{metric}" in rows[-1]
    # Per mission: the loop has two (scenarios/loop/scenario.py), and these few episodes see one or both.
    prefix = "env_runners/driving/mission/"
    missions = {key[len(prefix):].rsplit("/", 1)[0] for key in rows[-1] if key.startswith(prefix)}
    assert missions and missions <= {"south_to_west", "north_to_east"}, missions
    # RLlib reports NaN for a mission seen before but with no episode ending in this iteration.
    rates = {m: rows[-1][f"{prefix}{m}/reached_goal_rate"] for m in missions}
    seen = {m for m, rate in rates.items() if not math.isnan(rate)}
    assert seen, rates
    for mission in seen:
        assert 0.0 <= rates[mission] <= 1.0
        assert not math.isnan(rows[-1][f"{prefix}{mission}/return"])
    # SMARTS's own time in the iteration (bench/train_throughput.py): some, and within the 2 runners' time.
    for row in rows:
        assert 0 < row["env_runners/smarts_seconds"] <= 2 * row["time_this_iter_s"]
    assert list(trial_dir.glob("events.out.tfevents.*"))
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / "curves.png").stat().st_size > 5000

    # Console: one short plain line per iteration (stdout is a pipe here), no config dump; each
    # with the share of stop.training_iteration=2 done, the ETA and the iteration's own rates.
    lines = [line for line in result.stdout.splitlines() if line.startswith(short_name(trial["trial_id"]) + " ")]
    assert len(lines) == 2 and all(len(line) < 80 for line in lines)
    assert not re.search(r"\x1b\[|\r", result.stdout)
    assert "train_batch_size" not in result.stdout
    for line, row, done in zip(lines, rows, ("50%", "100%")):
        counts = {k: row[f"env_runners/driving/this_iter/{k}"] for k in ("episodes", "reached_goal", "collision")}
        assert counts["episodes"] == row["env_runners/num_episodes"]
        iteration, share, eta, steps, _, goal, collision, _ = line.split()[1:]
        assert (iteration, share) == (str(row["training_iteration"]), done)
        assert steps == str(int(row["env_runners/num_env_steps_sampled_lifetime"]))
        rates = tuple(f"{counts[k] / counts['episodes']:.0%}" for k in ("reached_goal", "collision"))
        assert (goal, collision) == rates
    assert lines[-1].split()[3] == "0s"
    # The summary: where the outputs are, and the command to run next.
    summary_lines = result.stdout.strip().splitlines()[-3:]
    assert summary_lines[0].startswith("completed: 1 trial(s)")
    assert summary_lines[1].startswith(f"outputs: {run_dir}/")
    assert summary_lines[2] == f"evaluate it with: python -m smarts_rl.evaluate run={run_dir}"
    assert sumo_children() == []


@pytest.mark.slow
def test_multirun_runs_each_job_in_its_own_directory_and_writes_a_sweep_summary(tmp_path):
    sweep_dir = tmp_path / "sweep"
    # Hydra's own sweep syntax: glob() makes one job per agent option (continuous, laner).
    result = train(
        "-m", "agent=glob(*)", "algo.lr=5e-4", "stop.training_iteration=1", *TINY, *ONE_RUNNER,
        f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with open(sweep_dir / "sweep_summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["overrides"].split()[0] for r in rows] == ["agent=continuous", "agent=laner"]
    for row in rows:
        assert row["status"] == "completed" and int(float(row["env_steps"])) >= 200
        summary = json.loads((Path(row["run_dir"]) / "summary.json").read_text())
        assert summary["agent"] == row["overrides"].split()[0].split("=")[1]
        assert summary["trials"][0]["config"]["lr"] == pytest.approx(5e-4)
    assert len({r["run_dir"] for r in rows}) == 2


@pytest.mark.slow
def test_grid_trains_one_trial_per_point_side_by_side_with_one_seed(tmp_path):
    run_dir = tmp_path / "grid"
    result = train(
        "scheduler=grid", "scheduler.grid={lr: [0.001, 0.0001]}", "stop.training_iteration=1", *TINY,
        "env_runners.num_env_runners=0", f"hydra.run.dir={run_dir}", cwd=tmp_path, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["scheduler"] == "grid"
    assert sorted(t["config"]["lr"] for t in summary["trials"]) == [0.0001, 0.001]
    assert {t["config"]["seed"] for t in summary["trials"]} == {0}
    for trial in summary["trials"]:
        rows = read_results(Path(trial["path"]))
        assert rows[-1]["learners/shared/policy_learning_rate"] == pytest.approx(trial["config"]["lr"])
