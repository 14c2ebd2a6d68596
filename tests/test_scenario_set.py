"""Sets of scenarios: expansion, per-episode sampling, training on a set (real Ray, SMARTS and SUMO,
one tiny grid run shared by the metric and evaluation tests), per-scenario and held-out evaluation.

Bad sets on the command line are in tests/test_config.py (BAD_INPUT)."""

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from smarts_rl import evaluate
from smarts_rl.overrides import absolute_scenario_path
from smarts_rl.config import compose_config, settings
from smarts_rl.scenarios.sets import ScenarioSampler, build_scenarios, scenario_sources, unique_names
from smarts_rl.scenarios.build import BUILTIN_SCENARIOS, ScenarioError, Settings
from smarts_rl.run_dir.trial_results import read_results
from tests.conftest import _train_tiny, written_eval_dir

POLICIES = ("policy", "random", "keep_lane")
PER_SCENARIO = "env_runners/driving/scenario/"
FIGURES = ("return", "reached_goal_rate", "collision_rate", "off_road_rate", "off_route_rate", "mean_speed",
           "distance_travelled")


# -- expansion -----------------------------------------------------------------------------


def copy_builtin(name: str, destination: Path) -> Path:
    """A user's copy of a built-in scenario's source, as one copies SMARTS's scenarios."""
    return Path(shutil.copytree(BUILTIN_SCENARIOS / name, destination))


def test_mixed_is_loop_merge_and_intersection():
    cfg = settings(compose_config(["scenario=mixed"]))
    assert list(scenario_sources(cfg.scenario, Path("/"))) == ["loop", "merge", "intersection"]
    assert cfg.scenario.sampling == "cycle" and cfg.scenario.weights is None


def test_a_folder_of_scenario_folders_expands_to_each_of_them_as_smarts_does(tmp_path):
    roads = tmp_path / "roads"
    copy_builtin("merge", roads / "merge")
    copy_builtin("intersection", roads / "cross")
    (roads / "notes").mkdir()  # not a scenario: skipped, as SMARTS's discover_scenarios does
    (roads / "notes" / "readme.txt").write_text("no map here")
    copy_builtin("loop", roads / ".hidden")

    sources = scenario_sources(Settings(name="mine", set=["loop", "roads"]), cwd=tmp_path)

    assert sources == {"loop": BUILTIN_SCENARIOS / "loop", "cross": roads / "cross", "merge": roads / "merge"}


def test_names_are_folder_names_made_metric_safe_and_unique(tmp_path):
    copy_builtin("loop", tmp_path / "a" / "my loop")
    copy_builtin("merge", tmp_path / "b" / "my loop")
    sources = scenario_sources(Settings(name="mine", set=["a/my loop", "b/my loop", "loop"]), cwd=tmp_path)
    assert list(sources) == ["my_loop", "my_loop_2", "loop"]
    assert unique_names(["x", "x", "x_2"]) == ["x", "x_2", "x_2_2"]
    # One scenario: its built-in name, or its folder's name.
    assert list(scenario_sources(Settings(name="merge"), tmp_path)) == ["merge"]
    assert list(scenario_sources(Settings(name="label", path="a/my loop"), tmp_path)) == ["my_loop"]


def test_the_command_line_pins_a_sets_folders_to_absolute_paths(tmp_path):
    copy_builtin("merge", tmp_path / "my roads" / "merge")
    [override] = absolute_scenario_path(["scenario.set=[loop,'my roads',nowhere]"], tmp_path)
    cfg = settings(compose_config([override]))
    # Built-in names and unknown bare names (reported later, as unknown names) stay as they are.
    assert cfg.scenario.set == ["loop", str(tmp_path / "my roads"), "nowhere"]


def test_a_scenario_of_the_set_that_fails_to_build_is_one_line_naming_it_and_its_build_log(user_scenario, tmp_path):
    scenario_py = user_scenario / "scenario.py"
    scenario_py.write_text(scenario_py.read_text().replace("rate=FLOW_RATE", "rate=FLOW_RAT"))
    sources = scenario_sources(Settings(name="mine", set=["loop", str(user_scenario)]), cwd=tmp_path)

    with pytest.raises(ScenarioError) as error:
        build_scenarios(sources, tmp_path / "cache")

    message = str(error.value)
    assert "\n" not in message and message.startswith(f"scenario my_scenario: {user_scenario}: scenario.py failed")
    [log] = (tmp_path / "cache").glob("my_scenario-*.log")
    assert message.endswith(f"(build log: {log})")


def test_a_cluster_job_ships_every_scenario_and_env_runners_find_each_copy(tmp_path, monkeypatch):
    from smarts_rl.run.cluster import PACKAGE_DIR, runtime_env
    from smarts_rl.env.smarts_env import locate_scenario
    from smarts_rl.scenarios.build import COMPLETE_MARKER

    driver = [tmp_path / "cache" / "loop-0123456789abcdef", tmp_path / "cache" / "merge-0123456789abcdef"]
    shipped = runtime_env(driver)
    assert shipped["working_dir"] == str(driver[0]) and shipped["py_modules"] == [str(PACKAGE_DIR), str(driver[1])]
    # What Ray unpacks on a node: the working_dir's contents, and each py_module inside a folder of its own.
    working_dir = tmp_path / "runtime_resources" / "working_dir_files" / "_ray_pkg_a"
    module_parent = tmp_path / "runtime_resources" / "py_modules_files" / "_ray_pkg_b"
    for copy in (working_dir, module_parent / driver[1].name):
        copy.mkdir(parents=True)
        (copy / COMPLETE_MARKER).write_text("{}")
    monkeypatch.syspath_prepend(str(working_dir))
    monkeypatch.syspath_prepend(str(module_parent))
    assert locate_scenario(str(driver[0]), shipped=True) == str(working_dir)
    assert locate_scenario(str(driver[1]), shipped=True) == str(module_parent / driver[1].name)


# -- sampling ------------------------------------------------------------------------------


def draws(sampler: ScenarioSampler, n: int) -> list[int]:
    return [sampler.next() for _ in range(n)]


def test_cycle_goes_round_the_set_in_a_seeded_shuffled_order():
    first = draws(ScenarioSampler(4, seed=3), 12)
    assert first == draws(ScenarioSampler(4, seed=3), 12)
    assert sorted(first[:4]) == [0, 1, 2, 3] and first[4:8] == first[:4] == first[8:]
    orders = {tuple(draws(ScenarioSampler(4, seed=seed), 4)) for seed in range(8)}
    assert len(orders) > 1  # the order depends on the seed


def test_cycle_starts_each_simulation_at_its_own_place():
    walks = [draws(ScenarioSampler(3, seed=0, position=p), 6) for p in range(3)]
    assert all(len({walk[i] for walk in walks}) == 3 for i in range(6))  # never two on the same scenario
    assert walks[1] == walks[0][1:] + walks[0][:1]


def test_weights_set_each_scenarios_share_and_zero_leaves_one_out():
    cycled = Counter(draws(ScenarioSampler(3, "cycle", [3, 1, 0], seed=1), 40))
    assert cycled == {0: 30, 1: 10}
    uniform = Counter(draws(ScenarioSampler(3, "uniform", [3, 1, 0], seed=1, stream=(5, 1)), 4000))
    assert set(uniform) == {0, 1} and uniform[0] / 4000 == pytest.approx(0.75, abs=0.03)


def test_uniform_draws_are_repeatable_per_stream_and_differ_between_streams():
    one = draws(ScenarioSampler(3, "uniform", seed=0, stream=(4, 1)), 30)
    assert one == draws(ScenarioSampler(3, "uniform", seed=0, stream=(4, 1)), 30)
    assert one != draws(ScenarioSampler(3, "uniform", seed=0, stream=(4, 2)), 30)
    assert set(one) == {0, 1, 2}


def scenario_walk(config: dict, worker_index: int, reset_seed: int, episodes: int) -> list[str]:
    """The scenarios of a SmartsEnv's first episodes, seeded on its first reset as RLlib does."""
    from ray.rllib.env.env_context import EnvContext

    from smarts_rl.env import SmartsEnv

    env = SmartsEnv(EnvContext(config, worker_index=worker_index))
    try:
        walk = [env.reset(seed=reset_seed)[1]["agent_0"]["scenario"]]
        # A seed given again (as RLlib 2.60's own env runners do at every reset they force; ours
        # pass it once, fault_tolerance.SeedFirstResetOnly): the walk goes on.
        walk += [env.reset(seed=reset_seed if i % 2 else None)[1]["agent_0"]["scenario"] for i in range(episodes - 1)]
    finally:
        env.close()
    return walk


def test_env_runners_and_sub_envs_walk_the_set_out_of_step_and_repeatably(map_only_scenario):
    from smarts_rl.agents import AgentSettings
    from smarts_rl.env import env_config

    set_of_three = {name: map_only_scenario for name in ("a", "b", "c")}
    seed = 3
    config = env_config(set_of_three, AgentSettings(name="laner"), seed=seed, num_envs_per_env_runner=2)
    # RLlib resets sub-env v of env runner w with the seed `seed + w + v`: (1, 1) and (2, 0) get the same.
    walks = [scenario_walk(config, w, seed + w + v, episodes=3) for w, v in ((1, 0), (1, 1), (2, 0))]
    assert all(sorted(walk) == ["a", "b", "c"] for walk in walks)
    assert all(len({walk[i] for walk in walks}) == 3 for i in range(3))  # never two on the same scenario
    assert scenario_walk(config, 2, seed + 2, episodes=3) == walks[2]  # repeatable


# -- training on a set, and evaluating it ----------------------------------------------------


@pytest.fixture(scope="module")
def set_run(tmp_path_factory) -> Path:
    """A two-point grid, trained one tiny iteration on the built-in loop plus a folder of scenario
    folders (a copy of merge's source). One simulation per trial: it must take turns over the
    episodes it samples."""
    root = tmp_path_factory.mktemp("set_run")
    copy_builtin("merge", root / "roads" / "merge")
    return _train_tiny(
        root / "run", "scenario.set=[loop,roads]", "scheduler=grid", "scheduler.grid={lr: [0.001, 0.0001]}",
        "env_runners.num_env_runners=0",
    )


def test_a_grid_on_a_set_logs_each_scenarios_figures_everywhere(set_run):
    summary = json.loads((set_run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["scheduler"] == "grid"
    assert summary["scenarios"] == ["loop", "merge"] and len(summary["trials"]) == 2
    config = (set_run / ".hydra" / "config.yaml").read_text()
    assert str(set_run.parent / "roads") in config  # pinned to an absolute path for evaluate

    for trial in summary["trials"]:
        trial_dir = Path(trial["path"])
        assert set(trial["per_scenario"]) == {"loop", "merge"}
        last = read_results(trial_dir)[-1]
        for name, figures in trial["per_scenario"].items():
            for figure in FIGURES:
                assert last[f"{PER_SCENARIO}{name}/{figure}"] == pytest.approx(figures[figure])
            assert 0.0 <= figures["collision_rate"] <= 1.0 and figures["distance_travelled"] >= 0
        # The trial metric stays the mean over every episode of the set.
        assert trial["episode_return_mean"] == pytest.approx(last["env_runners/episode_return_mean"])
        header = (trial_dir / "progress.csv").read_text().splitlines()[0].split(",")
        events = b"".join(p.read_bytes() for p in trial_dir.glob("events.out.tfevents.*"))
        for name in ("loop", "merge"):
            assert f"{PER_SCENARIO}{name}/return" in header and f"{PER_SCENARIO}{name}/reached_goal_rate" in header
            assert f"{PER_SCENARIO}{name}/return".encode() in events  # TensorBoard

    # A panel for the whole set and one per scenario.
    assert Image.open(set_run / "curves.png").size == (1600, 900)


def evaluate_here(capfd, *args: str) -> tuple[str, dict]:
    assert evaluate.main(list(args)) == 0, capfd.readouterr().err[-3000:]
    out = capfd.readouterr().out
    return out, json.loads((written_eval_dir(out) / "eval.json").read_text())


def test_evaluate_goes_through_every_scenario_of_the_set_on_the_same_seeds(set_run, capfd):
    out, report = evaluate_here(capfd, f"run={set_run}", "episodes=1", "agent.max_episode_steps=20", "seed=4")
    assert report["scenarios"] == report["trained_on_scenarios"] == ["loop", "merge"]
    assert list(report["per_scenario"]) == ["loop", "merge"]
    ratios = []
    for name, per_scenario in report["per_scenario"].items():
        assert set(per_scenario["policies"]) == set(POLICIES)
        for figures in per_scenario["policies"].values():
            assert [e["seed"] for e in figures["per_agent_episode"]] == [4]
        policies = per_scenario["policies"]
        ratio = policies["policy"]["episode_return_mean"] / policies["keep_lane"]["episode_return_mean"]
        assert per_scenario["ratio_to_keep_lane"] == pytest.approx(ratio)
        ratios.append(ratio)
        assert f"on {name}, seeds 4..4" in out
    assert report["ratio_to_keep_lane_mean"] == pytest.approx(np.mean(ratios))
    assert report["policies"]["policy"]["episodes"] == 2  # pooled over the set
    # One episode of the policy per scenario, one after the other.
    steps = sum(p["policies"]["policy"]["per_agent_episode"][0]["steps"] + 1 for p in report["per_scenario"].values())
    gif = Image.open(report["rollout_gif"]["path"])
    assert gif.n_frames == steps == report["rollout_gif"]["frames"] and report["rollout_gif"]["episodes"] == 2


def test_evaluate_on_a_held_out_scenario(set_run, capfd):
    _, report = evaluate_here(capfd, f"run={set_run}", "scenario=intersection", "episodes=1",
                              "agent.max_episode_steps=20", "gif=false")
    assert list(report["per_scenario"]) == ["intersection"] and report["scenario"] == "intersection"
    assert report["trained_on_scenarios"] == ["loop", "merge"]
    per_scenario = report["per_scenario"]["intersection"]
    assert report["policies"] == per_scenario["policies"]
    assert report["ratio_to_keep_lane_mean"] == per_scenario["ratio_to_keep_lane"]
