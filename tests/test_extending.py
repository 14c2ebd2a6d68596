"""docs/extending.md's recipes, done from outside smarts_rl/ (tests/plugins/): an algorithm and a
scheduler plugged in by a config folder on Hydra's search path and a package on PYTHONPATH."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smarts_rl.run.job import mark_stopped_early, run_status
from tests.helpers import TINY

REPO = Path(__file__).resolve().parent.parent
PLUGINS = REPO / "tests" / "plugins"
SEARCHPATH = f"hydra.searchpath=[file://{PLUGINS / 'conf'}]"


def train_with_plugins(*args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(REPO / "train.py"), SEARCHPATH, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def test_the_plugins_live_outside_the_package():
    for module in (PLUGINS / "my_extensions").glob("*.py"):
        assert "smarts_rl/" not in str(module.relative_to(REPO))
    assert not list((REPO / "smarts_rl").rglob("*rllib_ppo*")) and not list((REPO / "smarts_rl").rglob("*asha*"))


@pytest.mark.slow
def test_an_algorithm_from_outside_the_package_trains(tmp_path):
    run_dir = tmp_path / "run"
    # With a logger of one's own: a Tune callback from the same package.
    result = train_with_plugins("algo=rllib_ppo", "algo.lr=0.001", "stop.training_iteration=2", *TINY,
                                "env_runners.num_env_runners=0", "+callbacks=[{_target_: my_extensions.jsonl_logger.JsonLinesLogger}]",
                                f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["status"], summary["algo"]) == ("completed", "rllib_ppo")
    [trial] = summary["trials"]
    assert trial["config"]["lr"] == pytest.approx(0.001) and trial["env_steps"] >= 200
    assert Path(trial["checkpoint"]).is_dir()
    logged = [json.loads(line) for line in (run_dir / "my_log.jsonl").read_text().splitlines()]
    assert [r["training_iteration"] for r in logged] == [1, 2] and logged[-1]["env_steps"] == trial["env_steps"]


def test_a_logger_that_cannot_be_imported_is_one_line_before_anything_starts(tmp_path):
    result = train_with_plugins("callbacks=[{_target_: my_extensions.no_such_logger.Logger}]", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("train.py: error: callbacks[0]: cannot import its _target_ my_extensions.no_such_logger.Logger")
    assert list(tmp_path.iterdir()) == []


def test_a_bad_value_of_an_outside_option_is_one_line_before_anything_starts(tmp_path):
    result = train_with_plugins("algo=rllib_ppo", "algo.minibatch_size=500", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "train.py: error: algo.minibatch_size must be <= algo.train_batch_size, got 500"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_scheduler_from_outside_the_package_stops_trials_early_and_the_run_completes(tmp_path):
    run_dir = tmp_path / "run"
    result = train_with_plugins("scheduler=asha", "scheduler.trials=3", "scheduler.at_once=3", "scheduler.max_t=2",
                                "stop.training_iteration=2", *TINY, "env_runners.num_env_runners=0",
                                f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["status"], summary["scheduler"]) == ("completed", "asha")
    assert len(summary["trials"]) == 3 and len({t["config"]["lr"] for t in summary["trials"]}) == 3
    for trial in summary["trials"]:
        assert trial["training_iteration"] == 2 or trial.get("stopped_early"), trial
    assert "continue it with" not in result.stdout


def test_a_trial_its_scheduler_stopped_is_done_an_unfinished_one_is_not():
    limits = {"training_iteration": 3}
    records = [{"trial_id": t, "training_iteration": i, "env_steps": 100 * i, "time_total_s": 1.0, "error": None}
               for t, i in (("a", 3), ("b", 1), ("c", 1))]
    mark_stopped_early(records, {"a": "TERMINATED", "b": "TERMINATED", "c": "PAUSED"}, limits)
    assert [r.get("stopped_early") for r in records] == [None, True, None]
    assert run_status(records, limits) == "interrupted"  # c was interrupted
    assert run_status(records[:2], limits) == "completed"


@pytest.mark.slow
def test_a_sweeper_plugin_draws_its_jobs_and_a_bad_draw_fails_alone_with_its_one_line(tmp_path):
    sweep_dir = tmp_path / "sweep"
    # Draws of entropy_coeff in [-0.01, 0.01]: about half are negative, which algo=pg refuses.
    result = train_with_plugins("-m", "hydra/sweeper=random_draws", "hydra.sweeper.draws=2", "hydra.sweeper.seed=3",
                                "algo.entropy_coeff=interval(-0.01,0.01)", "stop.training_iteration=1", *TINY,
                                "env_runners.num_env_runners=0", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    draws = json.loads((sweep_dir / "draws.json").read_text())
    values = [float(next(o for o in d["overrides"] if o.startswith("algo.entropy_coeff=")).split("=")[1])
              for d in draws]
    assert len(values) == 2 and min(values) < 0 <= max(values), values  # seed 3 draws one of each
    bad, good = sorted(range(2), key=lambda i: values[i])
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == f"train.py: error: algo.entropy_coeff must be >= 0, got {values[bad]}"
    assert draws[good]["objective"] == draws[good]["objective"]  # a number, the best trial's return
    assert draws[bad]["objective"] != draws[bad]["objective"]  # NaN: refused
    summary = json.loads((sweep_dir / str(good) / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["best"]["episode_return_mean"] == pytest.approx(draws[good]["objective"])
