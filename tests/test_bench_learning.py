"""bench/learn_smarts.py and bench/pbt_vs_grid.py: the JSON they print, on tiny budgets."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import bootstrap, trim_mean

from tests.helpers import ONE_RUNNER, TINY, TINY_SEEDS_TRAINING

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import learn_smarts  # noqa: E402
import pbt_vs_grid  # noqa: E402
from learn_smarts import training_overrides  # noqa: E402
from pbt_vs_grid import grid_lrs  # noqa: E402


def test_the_benches_take_overrides_anywhere_on_their_line():
    args = learn_smarts.arguments(["--seeds", "0", "+experiment=quickstart", "--episodes", "1", "algo.lr=1e-3"])
    assert (args.seeds, args.episodes, args.overrides) == ("0", 1, ["+experiment=quickstart", "algo.lr=1e-3"])
    args = pbt_vs_grid.arguments(["scenario=loop", "--budget", "1000", "~scheduler.x", "--repeats", "2", "agent=laner"])
    assert (args.budget, args.repeats, args.overrides) == (1000, 2, ["scenario=loop", "~scheduler.x", "agent=laner"])


def test_a_step_budget_lifts_the_default_iteration_limit():
    assert training_overrides(["stop.timesteps_total=1000"])[-1] == "stop.training_iteration=null"
    assert training_overrides(["stop.timesteps_total=1000", "stop.training_iteration=3"]) == [
        "stop.timesteps_total=1000", "stop.training_iteration=3"]
    assert training_overrides(["+experiment=loop_pg"]) == ["+experiment=loop_pg"]


def test_the_grid_spans_pbts_lr_range_log_evenly():
    assert grid_lrs(4) == pytest.approx([1e-4, 3.11e-4, 9.65e-4, 3e-3], rel=1e-2)


@pytest.mark.slow
def test_learn_smarts_trains_evaluates_and_prints_one_json_line(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "learn_smarts.py"), "agent=continuous", "stop.timesteps_total=300",
         *TINY, *ONE_RUNNER,
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


def learn_over_seeds(bench: Path, cwd: Path, *args: str) -> tuple[dict, str]:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "learn_smarts.py"), "--seeds", "0,1,2", *TINY_SEEDS_TRAINING,
         "--episodes", "2", "--run-dir", str(bench), *args],
        cwd=cwd, capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stdout


def result_lines(run_dir: Path) -> list[int]:
    return [len(f.read_text().splitlines()) for f in sorted((run_dir / "tune").glob("*/result.json"))]


def test_learn_smarts_over_seeds_reuses_done_seeds_continues_a_stopped_one_and_reports(two_seed_sweep, tmp_path):
    bench = tmp_path / "bench"
    for seed in (0, 1):  # seeds 0 and 1 done already: the sweep's runs, trained and evaluated the same way
        shutil.copytree(two_seed_sweep / str(seed), bench / f"seed_{seed}", symlinks=True)
    # Seed 2 stopped after one of its two iterations, as a killed or shorter run is.
    one_iteration = [o for o in TINY_SEEDS_TRAINING if not o.startswith("stop.")] + ["stop.training_iteration=1"]
    trained = subprocess.run([sys.executable, str(REPO / "train.py"), "seed=2", *one_iteration,
                              f"hydra.run.dir={bench / 'seed_2'}"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=900)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert result_lines(bench / "seed_2") == [1]

    kept = tmp_path / "kept"
    line, stdout = learn_over_seeds(bench, tmp_path, "--keep", str(kept))
    assert [run["trained"] for run in line["per_seed"]] == ["done", "done", "resume"]
    assert result_lines(bench / "seed_0") == result_lines(bench / "seed_1") == [2]  # not trained again
    assert result_lines(bench / "seed_2") == [2]  # the same trial, continued
    summary = json.loads((bench / "seed_2" / "summary.json").read_text())  # a finished run, extended
    assert summary["status"] == "completed" and summary["trials"][0]["training_iteration"] == 2
    assert "| loop | 0,1,2 |" in stdout and (bench / "report.png").is_file()

    [group] = json.loads((bench / "report.json").read_text())["groups"]
    assert group["seeds"] == line["seeds"] == [0, 1, 2]
    ratio = group["scenarios"]["loop"]["ratio_to_keep_lane"]
    assert line["ratio_per_seed"] == pytest.approx(ratio["per_seed"], abs=1e-3)
    assert line["ratio_iqm"] == pytest.approx(trim_mean(ratio["per_seed"], 0.25), abs=1e-3)
    recomputed = bootstrap((np.array(ratio["per_seed"]),), lambda x, axis: trim_mean(x, 0.25, axis=axis),
                           n_resamples=10_000, method="percentile", rng=np.random.default_rng(0)).confidence_interval
    assert line["ratio_ci"] == pytest.approx([recomputed.low, recomputed.high], abs=1e-3)
    assert line["pass"] == (line["ratio_iqm"] >= 0.9)

    def evaluations(bench_dir: Path) -> dict[int, list[str]]:
        return {seed: sorted(str(f.relative_to(bench_dir)) for f in bench_dir.glob(f"seed_{seed}/eval/*/eval.json"))
                for seed in (0, 1, 2)}

    assert len(evaluations(bench)[0]) == 2  # the sweep's deterministic evaluation reused, a sampled one added
    for seed in (0, 1, 2):  # each seed kept: its results without Tune's config on every line, its best checkpoint
        run, kept_run = bench / f"seed_{seed}", kept / f"seed_{seed}"
        assert result_lines(kept_run) == result_lines(run)
        assert all("config" not in json.loads(r) for f in kept_run.glob("tune/*/result.json") for r in f.read_text().splitlines())
        best = Path(json.loads((run / "summary.json").read_text())["best"]["checkpoint"])
        assert [c.name for c in kept_run.glob("tune/*/checkpoint_*")] == [best.name]
    assert evaluations(kept) == evaluations(bench)
    # Seed 2's resume recorded its longer stop beside .hydra/: kept too, or the seed would look unfinished.
    assert (kept / "seed_2" / "resumes.jsonl").read_text() == (bench / "seed_2" / "resumes.jsonl").read_text()

    # A later session: outputs/ is gone, the kept runs are copied back and nothing is trained or evaluated again.
    later = tmp_path / "later"
    again, _ = learn_over_seeds(later, tmp_path, "--keep", str(kept))
    assert [run["trained"] for run in again["per_seed"]] == ["done", "done", "done"]
    assert evaluations(later) == evaluations(bench)
    assert again["ratio_iqm"] == line["ratio_iqm"] and again["ratio_ci"] == line["ratio_ci"]


@pytest.mark.slow
def test_learn_smarts_on_a_set_reports_each_scenario_and_the_held_out_one(tmp_path):
    bench = tmp_path / "bench"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "learn_smarts.py"), "--seeds", "0", "scenario.set=[loop,merge]",
         *TINY_SEEDS_TRAINING, "--episodes", "1", "--held-out", "intersection", "--run-dir", str(bench)],
        cwd=tmp_path, capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = json.loads(result.stdout.strip().splitlines()[-1])
    [seed] = line["per_seed"]
    assert set(seed["per_scenario"]) == set(line["per_scenario"]) == {"loop", "merge"}
    assert set(seed["held_out"]) == set(line["held_out"]) == {"intersection"}
    reports = [json.loads(f.read_text()) for f in (bench / "seed_0" / "eval").glob("*/eval.json")]
    [seen] = [r for r in reports if r["deterministic"] and r["scenario"] == r["trained_on"]]
    [held_out] = [r for r in reports if r["scenario"] == "intersection"]
    assert held_out["trained_on_scenarios"] == ["loop", "merge"] and held_out["scenarios"] == ["intersection"]
    for name in ("loop", "merge"):
        policies = seen["per_scenario"][name]["policies"]
        assert seed["per_scenario"][name]["policy_return"] == pytest.approx(
            policies["policy"]["episode_return_mean"], abs=0.01)
        assert line["per_scenario"][name]["per_seed"] == [seed["per_scenario"][name]["ratio_to_keep_lane"]]
    assert seed["ratio_to_keep_lane"] == pytest.approx(seen["ratio_to_keep_lane_mean"], abs=1e-3)
    ratio = held_out["policies"]["policy"]["episode_return_mean"] / held_out["policies"]["keep_lane"]["episode_return_mean"]
    assert line["held_out"]["intersection"]["per_seed"] == [pytest.approx(ratio, abs=1e-3)]
    assert line["held_out"]["intersection"]["ci"] is None  # one seed
    assert line["pass"] == all(line["per_scenario"][name]["iqm"] >= 0.9 for name in ("loop", "merge"))


def test_learn_smarts_refuses_a_seed_override_beside_seeds(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "bench" / "learn_smarts.py"), "--seeds", "0,1", "seed=3"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "give the seeds with --seeds, not as a seed= override" in result.stderr


def test_pbt_vs_grid_repeats_use_distinct_base_seeds_and_aggregate_over_them():
    from pbt_vs_grid import over_repeats, repeat_seeds

    assert repeat_seeds(0, 3, 4) == [0, 4, 8]  # PBT trials 0-3, 4-7, 8-11: no seed shared
    repeats = [{"best_final_return": v, "best_eval_return": 2 * v} for v in (1.0, 2.0, 6.0)]
    side = over_repeats([0, 4, 8], repeats)
    assert side["best_final_return"]["iqm"] == 3.0 and side["best_eval_return"]["per_seed"] == [2.0, 4.0, 12.0]
    low, high = side["best_final_return"]["ci"]
    assert 1.0 <= low < 3.0 < high <= 6.0
    assert over_repeats([0], repeats[:1])["best_eval_return"]["ci"] is None


def test_pbt_vs_grid_keeps_each_sides_figures_and_reuses_them_only_for_the_same_settings(tmp_path):
    from pbt_vs_grid import kept_side

    runs = []

    def run():
        runs.append(1)
        return {"best_final_return": 5.0}

    settings = {"overrides": ["seed=0"], "scheduler": ["scheduler=grid"], "last": 5, "episodes": 10}
    assert kept_side(tmp_path, "repeat_0_grid", settings, run) == {"best_final_return": 5.0}
    assert kept_side(tmp_path, "repeat_0_grid", settings, run) == {"best_final_return": 5.0}
    assert len(runs) == 1  # the second time from repeat_0_grid.json
    with pytest.raises(SystemExit, match="was run with other settings"):
        kept_side(tmp_path, "repeat_0_grid", {**settings, "episodes": 20}, run)
    assert kept_side(None, "repeat_0_grid", settings, run) == {"best_final_return": 5.0} and len(runs) == 2
