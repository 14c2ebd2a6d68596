"""The training console's lines: stop-budget share, ETA, the iteration's goal and collision
rates, aligned columns for a population, and plain text unless stdout is a terminal."""

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from smarts_rl.run.console import TrialLines, budget_share, duration, eta_seconds, header, iteration_rates, line
from smarts_rl.run_dir.layout import RUN_CONFIG
from smarts_rl.run_dir.trial_results import short_name

REPO = Path(__file__).resolve().parent.parent
ANSI_OR_CR = re.compile(r"\x1b\[|\r")


def rllib_result(iteration, time_total_s, steps, iter_steps=1000, episodes=10, goals=2, collisions=1, ret=183.84):
    """A training result as RLlib 2.60 reports it to Tune (nested; the keys the console reads, and
    some it must ignore), with the driving metrics of `smarts_rl.env.driving_metrics`."""
    return {
        "training_iteration": iteration,
        "time_total_s": time_total_s,
        "time_this_iter_s": time_total_s / iteration,
        "trial_id": "a1b2c_00000",
        "env_runners": {
            "episode_return_mean": ret,
            "num_env_steps_sampled": iter_steps,
            "num_env_steps_sampled_lifetime": steps,
            "num_episodes": episodes,
            "driving": {
                "collision_rate": 0.5,  # the 100-episode means: not the iteration's
                "reached_goal_rate": 0.5,
                "this_iter": {"episodes": episodes, "reached_goal": goals, "collision": collisions,
                              "off_road": 0, "off_route": 0},
            },
        },
        "learners": {"shared": {"policy_loss": 0.1}},
        "timers": {"training_iteration": 1.0},
    }


def cells(text):
    return text.split()


def test_a_line_has_the_budget_share_eta_and_the_iterations_rates():
    result = rllib_result(iteration=3, time_total_s=30.0, steps=3000)
    text = line("a1b2c_00003", result, {"training_iteration": 30})
    assert cells(text) == ["3", "3", "10%", "4m30s", "3000", "183.84", "20%", "10%", "100.0"]
    assert cells(header()) == ["trial", "iter", "done", "ETA", "env", "steps", "return", "goal", "collision", "steps/s"]


def test_the_nearest_limit_decides_the_share_and_the_first_reached_the_eta():
    result = rllib_result(iteration=5, time_total_s=100.0, steps=4000)
    limits = {"training_iteration": 50, "timesteps_total": 8000, "time_total_s": 1000.0}
    assert budget_share(limits, result) == pytest.approx(0.5)  # steps: 4000 of 8000
    assert eta_seconds(limits, result) == pytest.approx(100.0)  # 4000 more steps at 40 steps/s
    assert eta_seconds({"time_total_s": 150.0}, result) == pytest.approx(50.0)
    done = rllib_result(iteration=30, time_total_s=300.0, steps=30000)
    assert budget_share({"training_iteration": 30}, done) == 1.0 and eta_seconds({"training_iteration": 30}, done) == 0
    assert budget_share({}, result) is None and eta_seconds({}, result) is None  # no limit: runs until stopped
    assert cells(line("a1b2c_00000", result, {}))[2:4] == ["-", "-"]


def test_durations_and_rates_read_at_a_glance():
    seconds = (None, 0, 42.4, 61, 3599, 3600 * 5 + 7 * 60)
    assert [duration(s) for s in seconds] == ["-", "0s", "42s", "1m01s", "59m59s", "5h07m"]
    no_episode_ended = rllib_result(iteration=1, time_total_s=10.0, steps=1000, episodes=0, goals=0, collisions=0)
    assert iteration_rates(no_episode_ended) == (None, None)
    assert cells(line("a1b2c_00000", no_episode_ended, {}))[6:8] == ["-", "-"]
    before_driving_metrics = rllib_result(iteration=1, time_total_s=10.0, steps=1000)
    del before_driving_metrics["env_runners"]["driving"]
    assert iteration_rates(before_driving_metrics) == (None, None)


def test_a_population_gets_one_aligned_line_per_trial_per_iteration(tmp_path, monkeypatch):
    from smarts_rl.run import console

    ticks = iter(range(0, 10000, 10))  # 10 s between reports
    monkeypatch.setattr(console.time, "monotonic", lambda: float(next(ticks)))
    config = tmp_path / RUN_CONFIG
    config.parent.mkdir()
    OmegaConf.save({"stop": {"training_iteration": 4, "timesteps_total": None, "time_total_s": None}}, config)
    printed = []
    callback = TrialLines(config, print_fn=printed.append, terminal=False)
    trials = [SimpleNamespace(trial_id=f"9f3e1_{i:05d}") for i in range(4)]
    for iteration in (1, 2):
        for i, trial in enumerate(trials):
            result = rllib_result(iteration, 10.0 * iteration, 1000 * iteration, ret=-5.5 + 100 * i)
            callback.on_trial_result(iteration, trials, trial, result)
    callback.on_trial_error(2, trials, SimpleNamespace(trial_id="9f3e1_00002", error_file="/runs/x/error.txt"))

    assert printed[0] == header() and len(printed) == 1 + 8 + 8 + 1
    trial_lines, run_lines = printed[1:17:2], printed[2:17:2]
    assert [cells(p)[:3] for p in trial_lines[:4]] == [[str(i), "1", "25%"] for i in range(4)]
    assert [cells(p)[:3] for p in trial_lines[4:]] == [[str(i), "2", "50%"] for i in range(4)]
    # After each trial's line, the run's: its share of the 4 x 4 iterations and all trials' env steps.
    assert [cells(p)[:2] for p in run_lines] == [["run", f"{share}%"] for share in (6, 12, 19, 25, 31, 38, 44, 50)]
    assert [cells(p)[3] for p in run_lines] == ["1000", "2000", "3000", "4000", "5000", "6000", "7000", "8000"]
    assert cells(run_lines[-1])[2] == "1m20s"  # half done in 80 s
    # Aligned: every column ends where its header does.
    ends = [m.end() for m in re.finditer(r"\S+", header().replace("env steps", "env_steps"))]
    for text in trial_lines:
        assert [m.end() for m in re.finditer(r"\S+", text)][1:] == ends[1:], text
    for text in run_lines:
        assert [m.end() for m in re.finditer(r"\S+", text)][1:] == [ends[i] for i in (2, 3, 4, 8)], text
    assert printed[17].startswith("2 ") and "9f3e1_00002" in printed[17] and "/runs/x/error.txt" in printed[17]
    assert not any(ANSI_OR_CR.search(p) for p in printed)


def test_the_run_line_gives_the_whole_runs_eta_from_this_sessions_pace(monkeypatch):
    from smarts_rl.run import console

    clock = [100.0]
    monkeypatch.setattr(console.time, "monotonic", lambda: clock[0])
    limits = {"training_iteration": 10}
    # A resumed run: trial 0 had done 4 of 10 iterations, trial 1 none; trial 2 was stopped early.
    trials = [SimpleNamespace(trial_id=f"t_{i:05d}", status=status) for i, status in
              enumerate(("RUNNING", "RUNNING", "TERMINATED"))]
    progress = console.RunProgress(limits, {"t_00000": rllib_result(4, 40.0, 4000), "t_00002": rllib_result(2, 20.0, 2000)},
                                   {"t_00002"})
    clock[0] += 60.0
    share, eta, steps, rate = progress.report(trials, "t_00001", rllib_result(1, 10.0, 1000))
    # (0.4 + 0.1 + 1) / 3 done, (0.4 + 0 + 1) / 3 of it then; 0.1 / 3 in 60 s: the rest (1.5 / 3) in 15 minutes.
    assert share == pytest.approx(0.5) and eta == pytest.approx(900.0)
    assert steps == 7000 and rate == pytest.approx(1000 / 60)
    assert cells(console.run_line(share, eta, steps, rate)) == ["run", "50%", "15m00s", "7000", "16.7"]
    # No limit: no share, no ETA.
    assert console.RunProgress({}, {}).report(trials, "t_00001", rllib_result(1, 10.0, 1000))[:2] == (None, None)


def test_a_terminal_gets_styles_and_a_log_plain_text(tmp_path):
    trial = SimpleNamespace(trial_id="9f3e1_00000")
    for terminal in (True, False):
        printed = []
        callback = TrialLines(None, print_fn=printed.append, terminal=terminal)
        callback.on_trial_result(1, [trial], trial, rllib_result(1, 10.0, 1000))
        callback.on_trial_error(1, [trial], trial)
        assert bool(ANSI_OR_CR.search(printed[0])) is terminal  # the header
        assert not ANSI_OR_CR.search(printed[1])  # a result line: plain either way
        assert bool(ANSI_OR_CR.search(printed[2])) is terminal  # the failure


def test_stdout_to_a_pipe_is_no_terminal():
    # As `train.py | tee log` or CI runs it: the callback finds out by itself.
    code = (
        "from types import SimpleNamespace\n"
        "from smarts_rl.run.console import TrialLines\n"
        "from tests.test_console import rllib_result\n"
        "trial = SimpleNamespace(trial_id='9f3e1_00000')\n"
        "callback = TrialLines(None)\n"
        "callback.on_trial_result(1, [trial], trial, rllib_result(1, 10.0, 1000))\n"
        "callback.on_trial_error(1, [trial], trial)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout.splitlines()) == 3 and not ANSI_OR_CR.search(result.stdout)


def test_a_resumed_run_reads_its_limits_and_terminal_again(tmp_path):
    import pickle

    from smarts_rl.run.resume import remember_overrides, resumed_config

    config = tmp_path / RUN_CONFIG
    config.parent.mkdir()
    OmegaConf.save({"stop": {"training_iteration": 4}}, config)
    callback = TrialLines(config, terminal=True)
    callback._stop_limits()
    # train.py resume=... stop.training_iteration=8
    remember_overrides(tmp_path, resumed_config(tmp_path, ["stop.training_iteration=8"]))
    restored = pickle.loads(pickle.dumps(callback))
    assert restored._stop_limits() == {"training_iteration": 8}
    assert restored._terminal is None and restored._header_printed is False


def test_trial_short_names_are_tunes_trial_numbers():
    assert [short_name(t) for t in ("3a723_00000", "3a723_00012", "custom-id")] == ["0", "12", "custom-id"]
