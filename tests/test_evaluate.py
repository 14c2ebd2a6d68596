"""`python -m smarts_rl.evaluate` on tiny trained runs: eval.json, the table, rollout.gif, the
Envision replay, transfer to another scenario with more agents, the continuous agent."""

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import smarts_rl
from smarts_rl import evaluate
from smarts_rl.evaluation.rollout_gif import EGO, HEADER_PX, TRAFFIC
from tests.conftest import run_module, written_eval_dir

POLICIES = ("policy", "random", "keep_lane")
FIGURES = ("episode_return_mean", "episode_return_std", "collision_rate", "off_road_rate",
           "reached_goal_rate", "mean_speed", "episodes")


def test_eval_json_has_the_policy_and_both_baselines_on_the_same_seeds(laner_eval, laner_run):
    _, report, eval_dir = laner_eval
    assert eval_dir.parent == laner_run / "eval"
    assert report["scenario"] == report["trained_on"] == "loop"
    assert report["checkpoint"] == json.loads((laner_run / "summary.json").read_text())["best"]["checkpoint"]
    assert report["seeds"] == [0, 1]
    for name in POLICIES:
        figures = report["policies"][name]
        assert set(FIGURES) <= set(figures)
        assert figures["episodes"] == 2 and figures["agent_episodes"] == 2
        episodes = figures["per_agent_episode"]
        assert [e["seed"] for e in episodes] == [0, 1]
        returns = [e["episode_return"] for e in episodes]
        assert figures["episode_return_mean"] == pytest.approx(np.mean(returns))
        assert figures["episode_return_std"] == pytest.approx(np.std(returns))
        for outcome in ("collision", "off_road", "reached_goal"):
            assert figures[f"{outcome}_rate"] == pytest.approx(np.mean([e[outcome] for e in episodes]))
        assert figures["mean_speed"] == pytest.approx(np.mean([e["distance"] / (e["steps"] * 0.1) for e in episodes]))
        assert all(1 <= e["steps"] <= 60 for e in episodes)
    # Lane keeping on the empty first 60 steps of the loop: it drives on, at about the limit.
    keep_lane = report["policies"]["keep_lane"]
    assert keep_lane["off_road_rate"] == 0 and keep_lane["mean_speed"] > 10


def test_eval_json_splits_the_figures_per_mission(laner_eval):
    _, report, _ = laner_eval
    for name in POLICIES:
        figures = report["policies"][name]
        missions = {e["mission"] for e in figures["per_agent_episode"]}
        assert all(" -> " in m for m in missions) and set(figures["per_mission"]) == missions
        for mission, per_mission in figures["per_mission"].items():
            returns = [e["episode_return"] for e in figures["per_agent_episode"] if e["mission"] == mission]
            assert per_mission["agent_episodes"] == len(returns)
            assert per_mission["episode_return_mean"] == pytest.approx(np.mean(returns))


def test_the_table_shows_what_eval_json_says(laner_eval):
    result, report, _ = laner_eval
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.split()[:1] in (["policy"], ["random"], ["keep_lane"])}
    assert set(rows) == set(POLICIES)
    for name, row in rows.items():
        figures = report["policies"][name]
        assert f"{figures['episode_return_mean']:.2f} ± {figures['episode_return_std']:.2f}" in " ".join(row.split())
        assert row.rstrip().endswith(f"{figures['mean_speed']:.2f} m/s")


def test_the_table_adds_a_line_per_mission_when_there_are_several(laner_eval):
    _, report, _ = laner_eval

    def with_missions(*goal_rates):
        copy = json.loads(json.dumps(report))
        for figures in copy["policies"].values():
            figures["per_mission"] = {f"in_{i} -> out_{i}": {**figures, "reached_goal_rate": rate}
                                      for i, rate in enumerate(goal_rates)}
        return evaluate.table(copy).splitlines()

    one, two = with_missions(1.0), with_missions(0.5, 1.0)
    assert len(one) == 5 and two[:5] == one  # one mission: no per-mission lines
    episodes = report["policies"]["policy"]["agent_episodes"]
    assert two[6].startswith(f"  in_0 -> out_0 ({episodes}): policy ") and two[6].endswith("(0.50)")
    assert two[7].startswith(f"  in_1 -> out_1 ({episodes}): policy ") and two[7].endswith("(1.00)")


def test_rollout_gif_animates_the_policys_first_episode_in_real_time(laner_eval):
    _, report, eval_dir = laner_eval
    steps = report["policies"]["policy"]["per_agent_episode"][0]["steps"]
    gif = Image.open(eval_dir / "rollout.gif")
    assert gif.mode == "P" and len(gif.getpalette()) // 3 <= 64 and max(gif.size) <= 800  # a small palette GIF
    assert gif.n_frames == steps + 1 == report["rollout_gif"]["frames"]  # the reset, then every step
    assert (eval_dir / "rollout.gif").stat().st_size < 500_000
    durations, ego_frames, traffic_frames = [], 0, 0
    for i in range(gif.n_frames):
        gif.seek(i)
        durations.append(gif.info["duration"])
        pixels = np.asarray(gif.convert("RGB"))[HEADER_PX:].reshape(-1, 3)  # the map, below the counters
        ego_frames += bool((pixels == EGO).all(axis=1).sum() > 20)
        traffic_frames += bool((pixels == TRAFFIC).all(axis=1).sum() > 20)
    assert durations[:-1] == [100] * (gif.n_frames - 1)  # 10 frames per simulated second
    # The ego is in view from its first step; the loop's traffic throughout.
    assert ego_frames >= steps and traffic_frames == gif.n_frames


def test_envision_record_saves_a_replay_of_the_policys_episodes(laner_eval):
    _, report, eval_dir = laner_eval
    replay = eval_dir / "envision_replay.jsonl"
    assert report["envision_replay"] == str(replay)
    lines = replay.read_text().splitlines()
    preamble = json.loads(lines[0])
    assert preamble[0]["scenarios"][0].split("/")[-1].startswith("loop-")
    policy_steps = sum(e["steps"] for e in report["policies"]["policy"]["per_agent_episode"])
    # One state per simulation step, the ego's among them from its entry on.
    assert sum('"agent_0"' in line for line in lines[1:]) >= policy_steps
    assert not (eval_dir / "envision").exists()


def evaluate_here(capfd, *args: str) -> dict:
    """`evaluate` in this process (Ray and torch are imported once for the whole module)."""
    assert evaluate.main(list(args)) == 0, capfd.readouterr().err[-3000:]
    return json.loads((written_eval_dir(capfd.readouterr().out) / "eval.json").read_text())


def test_transfer_to_another_scenario_with_two_agents_counts_agent_episodes(laner_run):
    """Through the Python function, which returns what eval.json holds."""
    report = smarts_rl.evaluate(run=laner_run, scenario="merge", agents={"count": 2},
                                agent={"max_episode_steps": 20}, episodes=1, gif=False, seed=7)
    eval_dir = Path(report.pop("eval_dir"))
    assert eval_dir.parent == (laner_run / "eval").resolve()
    assert json.loads((eval_dir / "eval.json").read_text()) == json.loads(json.dumps(report))
    assert (report["scenario"], report["trained_on"], report["agents"]) == ("merge", "loop", 2)
    assert report["seeds"] == [7] and "rollout_gif" not in report
    for name in POLICIES:
        figures = report["policies"][name]
        episodes = figures["per_agent_episode"]
        assert figures["episodes"] == 1 and figures["agent_episodes"] == 2
        assert sorted(e["agent_id"] for e in episodes) == ["agent_0", "agent_1"]
        assert figures["collision_rate"] == pytest.approx(np.mean([e["collision"] for e in episodes]))


def test_continuous_per_agent_policy_against_the_lane_keeping_controller(continuous_run, capfd):
    report = evaluate_here(capfd, f"run={continuous_run}", "episodes=1", "gif=false")
    assert (report["agent"], report["agents_policy"]) == ("continuous", "per_agent")
    # The controller holds the lane and the speed limit (50 km/h) for the whole episode.
    [keep_lane] = report["policies"]["keep_lane"]["per_agent_episode"]
    assert not (keep_lane["off_road"] or keep_lane["off_route"]) and keep_lane["steps"] == 60
    assert 11 < keep_lane["mean_speed"] < 14.5
    # Uniform throttle and brake make the random baseline slower.
    assert report["policies"]["random"]["mean_speed"] < keep_lane["mean_speed"]


def test_sample_actions_draws_the_continuous_policys_actions_reproducibly(continuous_run, capfd):
    args = (f"run={continuous_run}", "episodes=2", "gif=false")
    mean_action = evaluate_here(capfd, *args)
    sampled = [evaluate_here(capfd, *args, "sample_actions=true") for _ in range(2)]
    assert mean_action["deterministic"] and not sampled[0]["deterministic"]

    def returns(report):
        return [(e["episode_return"], e["distance"]) for e in report["policies"]["policy"]["per_agent_episode"]]

    # The same seeds draw the same actions; the Gaussian's noise moves the car differently.
    assert returns(sampled[0]) == returns(sampled[1])
    assert returns(sampled[0]) != returns(mean_action)
    assert sampled[0]["policies"]["keep_lane"] == mean_action["policies"]["keep_lane"]


def test_sample_only_samples_some_action_components_and_takes_the_mean_for_the_others(continuous_run, capfd):
    args = (f"run={continuous_run}", "episodes=1", "gif=false", "sample_actions=true")
    steering = evaluate_here(capfd, *args, "sample_only=steering")
    everything = evaluate_here(capfd, *args, "sample_only=steering,brake,throttle")
    assert steering["sampled_components"] == ["steering"]
    assert everything["sampled_components"] == ["throttle", "brake", "steering"]
    assert everything["policies"]["policy"] == evaluate_here(capfd, *args)["policies"]["policy"]
    assert steering["policies"]["policy"] != everything["policies"]["policy"]


def test_a_multirun_evaluates_each_run_into_its_own_eval_dir_and_writes_nothing_else(laner_run, continuous_run,
                                                                                       tmp_path):
    temporary = set(Path(tempfile.gettempdir()).glob("smarts_rl_evaluate_*"))
    result = run_module("smarts_rl.evaluate", "-m", f"run={laner_run},{continuous_run}", "episodes=1", "gif=false",
                        "agent.max_episode_steps=20", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [line.split()[:2] for line in result.stdout.splitlines() if line.startswith("[")] == [
        ["[evaluate", "#0]"], ["[evaluate", "#1]"]]
    written = [Path(line.split(maxsplit=1)[1]) for line in result.stdout.splitlines()
               if line.startswith("written:") and line.endswith("eval.json")]
    assert [path.parents[2] for path in written] == [laner_run, continuous_run]
    reports = [json.loads(path.read_text()) for path in written]
    assert [(r["agent"], r["seeds"], r["max_episode_steps"]) for r in reports] == [
        ("laner", [0], 20), ("continuous", [0], 20)]
    # No outputs/, .hydra/, multirun.yaml or log: not here, and the sweep's temporary folder is gone.
    assert list(tmp_path.iterdir()) == []
    assert set(Path(tempfile.gettempdir()).glob("smarts_rl_evaluate_*")) == temporary
