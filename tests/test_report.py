"""`python -m smarts_rl.report`: a report over real tiny runs (the shared two-seed sweep), its
figures recomputed from report.json's per-seed values, and bad inputs."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import bootstrap, trim_mean

from tests.conftest import run_module

PNG_MAGIC = b"\x89PNG"


def recomputed_ci(per_seed: list[float]) -> list[float]:
    """The CI scipy gives from the per-seed values, with the settings report.json states."""
    result = bootstrap((np.array(per_seed),), lambda x, axis: trim_mean(x, 0.25, axis=axis), n_resamples=10_000,
                       method="percentile", confidence_level=0.95, rng=np.random.default_rng(0))
    return [result.confidence_interval.low, result.confidence_interval.high]


def returns_of(run_dir: Path) -> tuple[list[float], list[float]]:
    [result_file] = (run_dir / "tune").glob("*/result.json")
    lines = [json.loads(line) for line in result_file.read_text().splitlines()]
    points = [(r["env_runners"]["num_env_steps_sampled_lifetime"], r["env_runners"].get("episode_return_mean"))
              for r in lines]
    points = [(s, r) for s, r in points if r is not None and r == r]  # NaN: no episode finished yet
    return [s for s, _ in points], [r for _, r in points]


def eval_json(run_dir: Path) -> dict:
    [path] = run_dir.glob("eval/*/eval.json")
    return json.loads(path.read_text())


def copy_run(run_dir: Path, target: Path, seed: int | None = None, extra_override: str | None = None) -> Path:
    """A copy of a real run, its config edited as if it had been trained with another seed or setting."""
    shutil.copytree(run_dir, target, symlinks=True)
    config_file, overrides_file = target / ".hydra" / "config.yaml", target / ".hydra" / "overrides.yaml"
    config, overrides = yaml.safe_load(config_file.read_text()), yaml.safe_load(overrides_file.read_text())
    if seed is not None:
        config["seed"] = seed
        overrides = [o for o in overrides if not o.startswith("seed=")] + [f"seed={seed}"]
    if extra_override:
        key, value = extra_override.split("=")
        config["algo"][key.split(".")[1]] = float(value)
        overrides.append(extra_override)
    config_file.write_text(yaml.safe_dump(config))
    overrides_file.write_text(yaml.safe_dump(overrides))
    return target


def test_a_report_over_a_two_seed_sweep(two_seed_sweep, tmp_path):
    result = run_module("smarts_rl.report", str(two_seed_sweep), f"out={tmp_path}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    [group] = report["groups"]
    assert group["seeds"] == [0, 1]  # read from each job's .hydra/config.yaml
    assert group["runs"] == [str(two_seed_sweep / "0"), str(two_seed_sweep / "1")]
    assert "seed=0" not in group["overrides"] and "stop.training_iteration=2" in group["overrides"]
    [(scenario, figures)] = group["scenarios"].items()
    assert scenario == "loop"

    runs = [two_seed_sweep / "0", two_seed_sweep / "1"]
    final = figures["final_return"]
    assert final["seeds"] == [0, 1]
    assert final["per_seed"] == pytest.approx([np.mean(returns_of(run)[1][-5:]) for run in runs])
    evaluations = [eval_json(run)["policies"] for run in runs]
    assert figures["eval_return"]["per_seed"] == pytest.approx([e["policy"]["episode_return_mean"] for e in evaluations])
    assert figures["ratio_to_keep_lane"]["per_seed"] == pytest.approx(
        [e["policy"]["episode_return_mean"] / e["keep_lane"]["episode_return_mean"] for e in evaluations])
    for name in ("final_return", "eval_return", "ratio_to_keep_lane"):
        figure = figures[name]
        assert figure["iqm"] == pytest.approx(trim_mean(figure["per_seed"], 0.25))
        assert figure["ci"] == pytest.approx(recomputed_ci(figure["per_seed"]))
    assert report["statistics"]["n_resamples"] == 10_000 and report["statistics"]["seed"] == 0

    curve = figures["curve"]
    starts = [returns_of(run)[0][0] for run in runs]
    ends = [returns_of(run)[0][-1] for run in runs]
    assert curve["env_steps"][0] == max(starts) and curve["env_steps"][-1] == min(ends)
    assert np.allclose(curve["mean"], np.mean(curve["per_seed"], axis=0))
    low, high = curve["ci"]
    assert np.all(np.array(low) <= np.array(curve["mean"]) + 1e-9)
    assert np.all(np.array(curve["mean"]) <= np.array(high) + 1e-9)

    table = (tmp_path / "report.md").read_text()
    assert "| loop | 0,1 |" in table and f"{figures['ratio_to_keep_lane']['iqm']:.3g} [" in table
    assert table.splitlines()[2] in result.stdout  # the table is printed too
    assert (tmp_path / "report.png").read_bytes()[:4] == PNG_MAGIC


def test_the_python_function_returns_the_report_it_wrote(two_seed_sweep, tmp_path):
    import smarts_rl

    built = smarts_rl.report(runs=[two_seed_sweep / "0", two_seed_sweep / "1"], out=tmp_path / "out")
    assert built.pop("written") == [str(tmp_path / "out" / name) for name in ("report.md", "report.png", "report.json")]
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == json.loads(json.dumps(built))
    assert built["groups"][0]["seeds"] == [0, 1]


def test_groups_are_named_by_the_overrides_that_differ(two_seed_sweep, tmp_path):
    other = tmp_path / "other_lr"
    for job in ("0", "1"):
        copy_run(two_seed_sweep / job, other / job, extra_override="algo.lr=0.01")
    result = run_module("smarts_rl.report", str(two_seed_sweep), str(other), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((two_seed_sweep / "report.json").read_text())  # the first directory, without out=
    assert [(g["name"], g["seeds"]) for g in report["groups"]] == [("defaults", [0, 1]), ("algo.lr=0.01", [0, 1])]


def test_a_group_of_one_seed_is_reported_without_a_ci(two_seed_sweep, tmp_path):
    result = run_module("smarts_rl.report", str(two_seed_sweep / "1"), f"out={tmp_path}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "one seed (1): reported without a confidence interval" in result.stderr
    [group] = json.loads((tmp_path / "report.json").read_text())["groups"]
    figures = group["scenarios"]["loop"]
    assert figures["ratio_to_keep_lane"]["ci"] is None and len(figures["ratio_to_keep_lane"]["per_seed"]) == 1
    assert figures["curve"]["ci"] is None
    assert "(no CI)" in (tmp_path / "report.md").read_text()


def test_a_seed_counts_once_per_group(two_seed_sweep, tmp_path):
    twin = copy_run(two_seed_sweep / "0", tmp_path / "again" / "0")
    result = run_module("smarts_rl.report", str(two_seed_sweep), str(twin), f"out={tmp_path}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{twin}: seed 0 of this config is already {two_seed_sweep / '0'}; left out" in result.stderr
    [group] = json.loads((tmp_path / "report.json").read_text())["groups"]
    assert group["seeds"] == [0, 1]


def one_error_line(result) -> str:
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("report: error: ") and "Traceback" not in result.stderr
    return result.stderr


def test_nothing_to_report_is_one_line_and_exit_2(two_seed_sweep, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no run directory of train.py here" in one_error_line(run_module("smarts_rl.report", str(empty), cwd=tmp_path))
    assert "no such directory" in one_error_line(run_module("smarts_rl.report", "nowhere", cwd=tmp_path))
    assert "give one or more" in one_error_line(run_module("smarts_rl.report", cwd=tmp_path))
    assert "unknown argument 'episodes'" in one_error_line(
        run_module("smarts_rl.report", str(two_seed_sweep), "episodes=3", cwd=tmp_path))

    untrained = tmp_path / "untrained"  # a run killed before its first result
    shutil.copytree(two_seed_sweep / "0" / ".hydra", untrained / ".hydra")
    stderr = one_error_line(run_module("smarts_rl.report", str(untrained), cwd=tmp_path))
    assert f"{untrained}: no trial has finished an episode yet" in stderr

    unseeded = tmp_path / "unseeded"  # cannot be grouped: its seed is unknown
    shutil.copytree(two_seed_sweep / "0" / ".hydra", unseeded / ".hydra")
    (unseeded / ".hydra" / "config.yaml").write_text("algo: {name: pg}\n")
    stderr = one_error_line(run_module("smarts_rl.report", str(unseeded), cwd=tmp_path))
    assert "names no integer seed" in stderr
    assert not list(tmp_path.glob("*/report.json"))


def with_scenario_set(run_dir: Path, target: Path, offsets: dict[str, float]) -> Path:
    """A copy of a real run as a scenario-set run reports it: per-scenario returns in result.json
    (`env_runners/driving/scenario/<name>/return`) and `per_scenario` in eval.json."""
    shutil.copytree(run_dir, target, symlinks=True)
    [result_file] = (target / "tune").glob("*/result.json")
    lines = []
    for line in result_file.read_text().splitlines():
        result = json.loads(line)
        mean = result["env_runners"].get("episode_return_mean")
        if mean is not None:
            result["env_runners"]["driving"] = {"scenario": {name: {"return": mean + offset}
                                                             for name, offset in offsets.items()}}
        lines.append(json.dumps(result))
    result_file.write_text("\n".join(lines) + "\n")
    [eval_file] = target.glob("eval/*/eval.json")
    evaluation = json.loads(eval_file.read_text())
    keep_lane = evaluation["policies"]["keep_lane"]["episode_return_mean"]
    evaluation["per_scenario"] = {}
    for name, offset in offsets.items():
        policies = json.loads(json.dumps(evaluation["policies"]))
        policies["policy"]["episode_return_mean"] += offset
        evaluation["per_scenario"][name] = {"policies": policies,
                                            "ratio_to_keep_lane": policies["policy"]["episode_return_mean"] / keep_lane}
    eval_file.write_text(json.dumps(evaluation))
    return target


def test_a_scenario_set_is_reported_per_scenario_and_pooled_stratified(two_seed_sweep, tmp_path):
    offsets = {"merge": 0.0, "intersection": -10.0}
    for job in ("0", "1"):
        with_scenario_set(two_seed_sweep / job, tmp_path / "set" / job, offsets)
    result = run_module("smarts_rl.report", str(tmp_path / "set"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [group] = json.loads((tmp_path / "set" / "report.json").read_text())["groups"]
    assert sorted(group["scenarios"]) == ["intersection", "merge"]
    merge, intersection = group["scenarios"]["merge"], group["scenarios"]["intersection"]
    assert intersection["final_return"]["per_seed"] == pytest.approx([v - 10 for v in merge["final_return"]["per_seed"]])
    assert intersection["eval_return"]["per_seed"] == pytest.approx([v - 10 for v in merge["eval_return"]["per_seed"]])
    pooled = group["all_scenarios"]["ratio_to_keep_lane"]
    strata = [pooled["per_seed"]["merge"], pooled["per_seed"]["intersection"]]
    assert strata == [merge["ratio_to_keep_lane"]["per_seed"], intersection["ratio_to_keep_lane"]["per_seed"]]
    assert pooled["iqm"] == pytest.approx(trim_mean(np.concatenate(strata), 0.25))
    recomputed = bootstrap([np.array(s) for s in strata],
                           lambda *s, axis: trim_mean(np.concatenate(s, axis=axis), 0.25, axis=axis),
                           n_resamples=10_000, method="percentile", rng=np.random.default_rng(0)).confidence_interval
    assert pooled["ci"] == pytest.approx([recomputed.low, recomputed.high])
    assert "| all (stratified) |" in result.stdout
