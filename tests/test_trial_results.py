"""Curves and bench scores read a trial's results from result.json, which a resume cannot garble."""

import json

from smarts_rl.run_dir.curves import plot_curves, read_progress
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
    assert plot_curves({"t": tmp_path}, tmp_path / "curves.png").stat().st_size > 1000


def test_a_trial_without_results_has_none(tmp_path):
    assert read_results(tmp_path) == [] and read_progress(tmp_path) == ([], [], [])
