"""Curves and bench scores read a trial's results from result.json, which a resume cannot garble;
curves.png draws each trial's returns against its env steps."""

import csv
import json
import math
from pathlib import Path

from PIL import Image

from smarts_rl.run_dir.curves import SMOOTHING_ITERATIONS, curves_figure, read_progress, run_figure, running_mean
from smarts_rl.run_dir.trial_results import read_results

HEADER = "training_iteration,env_runners/num_env_steps_sampled_lifetime,env_runners/episode_return_mean,timestamp"


def result(iteration, steps, ret, timestamp):
    return {"training_iteration": iteration, "timestamp": timestamp,
            "env_runners": {"num_env_steps_sampled_lifetime": steps, "episode_return_mean": ret}}


def test_read_progress_uses_result_json_not_the_csv_a_resume_garbles(tmp_path):
    results = [result(1, 1000, float("nan"), 10), result(2, 2000, 20.0, 20), result(3, 3000, 30.0, 30)]
    # A killed run can leave its last line cut short.
    (tmp_path / "result.json").write_text("".join(json.dumps(r) + "\n" for r in results) + '{"training_it')
    # What Tune appends after a resume: columns in another order under the old header.
    (tmp_path / "progress.csv").write_text(f"{HEADER}\n1,1000,,10\n2,2000,20.0,20\n3,30.0,3000,30\n")

    assert read_progress(tmp_path) == ([2000.0, 3000.0], [20.0, 30.0], [20.0, 30.0])
    assert read_results(tmp_path)[2]["env_runners/episode_return_mean"] == 30.0
    [ax] = curves_figure({"t": tmp_path}).get_axes()
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[20.0, 30.0], [20.0, 25.0]]


def test_a_trial_without_results_has_none(tmp_path):
    assert read_results(tmp_path) == [] and read_progress(tmp_path) == ([], [], [])


def trial_lines(ax) -> dict[str, list[tuple[list, list]]]:
    """Per trial (by its legend label): its stretches of curve as (x, y) of the faint line (each
    iteration's mean return) then the bold one (the running mean), in drawing order."""
    lines, trials, current = ax.get_lines(), {}, None
    for faint, bold in zip(lines[::2], lines[1::2]):
        assert list(faint.get_xdata()) == list(bold.get_xdata()) and faint.get_color() == bold.get_color()
        assert faint.get_alpha() < 1 and bold.get_linewidth() > faint.get_linewidth()
        current = bold.get_label() if not bold.get_label().startswith("_") else current
        trials.setdefault(current, []).append(
            ((list(faint.get_xdata()), list(faint.get_ydata())), list(bold.get_ydata())))
    return trials


def progress_csv(trial_dir: Path) -> tuple[list[float], list[float]]:
    """Env steps and mean returns as Tune's progress.csv has them (rows before a finished episode left out)."""
    with open(trial_dir / "progress.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["env_runners/episode_return_mean"] not in ("", "nan")]
    return ([float(r["env_runners/num_env_steps_sampled_lifetime"]) for r in rows],
            [float(r["env_runners/episode_return_mean"]) for r in rows])


def test_curves_png_draws_each_trials_returns_from_progress_csv_against_env_steps(laner_run):
    summary = json.loads((laner_run / "summary.json").read_text())
    fig = run_figure(laner_run, summary["trials"], "pg on loop", summary["scenarios"])

    # The figure curves.png is: one panel (one scenario), at its size.
    assert Image.open(laner_run / "curves.png").size == tuple(fig.get_size_inches() * fig.dpi) == (800, 450)
    [ax] = fig.get_axes()
    assert ax.get_title() == "pg on loop"
    assert ax.get_xlabel() == "env steps"
    assert ax.get_ylabel() == f"mean episode return (bold: last {SMOOTHING_ITERATIONS} iterations)"
    drawn = trial_lines(ax)
    assert sorted(drawn) == sorted(t["trial_id"] for t in summary["trials"]) and len(drawn) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(drawn)
    for trial in summary["trials"]:
        [((steps, returns), smoothed)] = drawn[trial["trial_id"]]
        assert (steps, returns) == progress_csv(Path(trial["path"]))
        assert steps and not any(math.isnan(r) for r in returns)
        assert smoothed == running_mean(returns)
        assert returns[-1] == summary["trials"][0]["episode_return_mean"]


def write_results(trial_dir: Path, rows: list[tuple]) -> Path:
    """result.json of a trial of a scenario set: (timestamp, env steps, loop return, merge return) per iteration."""
    trial_dir.mkdir()
    lines = [json.dumps({"timestamp": t, "env_runners": {
        "num_env_steps_sampled_lifetime": steps, "episode_return_mean": (loop + merge) / 2,
        "driving": {"scenario": {"loop": {"return": loop}, "merge": {"return": merge}}}}}) for t, steps, loop, merge in rows]
    (trial_dir / "result.json").write_text("\n".join(lines) + "\n")
    return trial_dir


def test_curves_of_a_pbt_set_run_split_at_each_exploit_and_add_a_panel_per_scenario(tmp_path):
    trials = {
        "a": write_results(tmp_path / "a", [(10, 100, 1.0, 3.0), (20, 200, 2.0, 4.0), (30, 300, 3.0, 5.0)]),
        # b copies a at its iteration 1 between its own iterations 1 and 2: it continues from a's step count.
        "b": write_results(tmp_path / "b", [(11, 100, 0.0, 0.0), (21, 100 + 100, 5.0, 7.0), (31, 300, 6.0, 8.0)]),
    }
    exploits = [{"trial_id": "b", "cloned_trial_id": "a", "time": 15}]
    fig = curves_figure(trials, exploits, "pg on pbt", ["loop", "merge"])

    all_scenarios, loop, merge, unused = fig.get_axes()
    assert not unused.get_visible()
    assert [ax.get_title() for ax in (all_scenarios, loop, merge)] == [
        "pg on pbt (all scenarios)", "scenario loop", "scenario merge"]
    for ax, index in ((all_scenarios, None), (loop, 0), (merge, 1)):
        drawn = trial_lines(ax)
        assert sorted(drawn) == ["a", "b"]
        [(a_points, _)] = drawn["a"]
        (b_before, _), (b_after, b_smoothed) = drawn["b"]  # two stretches: before and after the exploit
        if index is None:
            assert a_points == ([100, 200, 300], [2.0, 3.0, 4.0])
            assert b_before == ([100], [0.0]) and b_after == ([200, 300], [6.0, 7.0])
        else:
            assert a_points[1] == [[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]][index]
            assert b_after[1] == [[5.0, 6.0], [7.0, 8.0]][index]
        # The running mean restarts at the exploit: the copied weights owe nothing to b's past.
        assert b_smoothed == running_mean(b_after[1])
        # The exploit: a marker at the first point after it, on b's colour, and in the legend.
        [marker, legend_entry] = ax.collections
        assert marker.get_offsets().tolist() == [[b_after[0][0], b_after[1][0]]]
        assert legend_entry.get_label() == "PBT exploit"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "PBT exploit"]
