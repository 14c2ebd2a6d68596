"""bench/learn_smarts.py and bench/pbt_vs_grid.py: the JSON they print, on tiny budgets."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from learn_smarts import training_overrides  # noqa: E402
from pbt_vs_grid import grid_lrs  # noqa: E402


def test_a_step_budget_lifts_the_default_iteration_limit():
    assert training_overrides(["stop.timesteps_total=1000"])[-1] == "stop.training_iteration=null"
    assert training_overrides(["stop.timesteps_total=1000", "stop.training_iteration=3"]) == [
        "stop.timesteps_total=1000", "stop.training_iteration=3"]
    assert training_overrides(["+experiment=loop_pg"]) == ["+experiment=loop_pg"]


def test_the_grid_spans_pbts_lr_range_log_evenly():
    assert grid_lrs(4) == pytest.approx([1e-4, 3.11e-4, 9.65e-4, 3e-3], rel=1e-2)


def test_learn_smarts_trains_evaluates_and_prints_one_json_line(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "learn_smarts.py"), "agent=continuous", "stop.timesteps_total=300",
         "algo.train_batch_size=200", "agent.max_episode_steps=60", "env_runners.num_env_runners=1",
         "--episodes", "2", "--run-dir", str(run_dir)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert (line["scenario"], line["agent"], line["algo"]) == ("loop", "continuous", "pg")
    assert 300 <= line["env_steps"] < 600 and line["wall_s"] > 0  # 2 iterations: the step budget, not 30 iterations
    reports = [json.loads(f.read_text()) for f in (run_dir / "eval").glob("*/eval.json")]
    [evaluation] = [r["policies"] for r in reports if r["deterministic"]]
    [sampled] = [r["policies"] for r in reports if not r["deterministic"]]
    assert line["policy_return"] == pytest.approx(evaluation["policy"]["episode_return_mean"], abs=0.01)
    assert line["keep_lane_return"] == pytest.approx(evaluation["keep_lane"]["episode_return_mean"], abs=0.01)
    assert line["ratio_to_keep_lane"] == pytest.approx(line["policy_return"] / line["keep_lane_return"], abs=1e-3)
    assert 0 <= line["collision_rate"] <= 1 and line["pass"] == (line["ratio_to_keep_lane"] >= 0.9)
    assert line["policy_return_sampled"] == pytest.approx(sampled["policy"]["episode_return_mean"], abs=0.01)
    assert line["ratio_to_keep_lane_sampled"] == pytest.approx(
        line["policy_return_sampled"] / line["keep_lane_return"], abs=1e-3)
    assert 0 <= line["collision_rate_sampled"] <= 1
