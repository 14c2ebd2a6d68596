"""`train.py init_from=...`: a new run starting from a trained policy; and a new run never lands on another run.

The bad-input cases are refused before Ray starts (no Ray here); the warm start itself is
checked on real Algorithms (the learner's and the env runners' modules) and on a real
grid run of train.py. The source is the session's tiny trained laner run (tests/conftest.py).
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smarts_rl.cli import main, preflight
from smarts_rl.config import compose_config, settings
from smarts_rl.upstream.rllib import MODULES_IN_CHECKPOINT
from smarts_rl.run_dir.trained_run import find_checkpoint
from smarts_rl.run.warm_start import plan
from tests.conftest import REPO
from tests.helpers import TINY_TRAINING

OBSERVATIONS = 64


def refused(capsys, *args) -> str:
    """train.py's one error line for these arguments (it must exit 2 before Hydra or Ray start)."""
    assert main(list(args)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def snapshot(directory: Path) -> dict:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in directory.rglob("*")}


# -- bad input: one line, exit 2, nothing left behind ---------------------------------------


def test_init_from_a_missing_or_foreign_path_is_refused(tmp_path, capsys):
    new_run = tmp_path / "new"
    err = refused(capsys, f"init_from={tmp_path / 'nope'}", f"hydra.run.dir={new_run}")
    assert "init_from=" in err and "no such directory" in err
    (tmp_path / "foreign").mkdir()
    err = refused(capsys, f"init_from={tmp_path / 'foreign'}", f"hydra.run.dir={new_run}")
    assert "neither a run directory of train.py" in err and "nor an RLlib checkpoint" in err
    assert not new_run.exists()


def test_init_from_a_run_without_checkpoints_is_refused(tmp_path, capsys):
    run = tmp_path / "empty_run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (run / "tune").mkdir()
    err = refused(capsys, f"init_from={run}", f"hydra.run.dir={tmp_path / 'new'}")
    assert "the run has no checkpoint" in err and "init_from=<path>" in err
    assert not (tmp_path / "new").exists()


def test_init_from_together_with_resume_is_refused(tmp_path, capsys):
    err = refused(capsys, f"resume={tmp_path}", f"init_from={tmp_path}")
    assert "init_from" in err and "resume" in err and "give one of them" in err


def test_init_checkpoint_takes_best_or_latest(tmp_path, capsys):
    err = refused(capsys, f"init_from={tmp_path}", "init_checkpoint=oldest", f"hydra.run.dir={tmp_path / 'new'}")
    assert "init_checkpoint must be best or latest" in err


@pytest.mark.parametrize(
    "overrides, names",
    [
        (["algo.fcnet_hiddens=[32,32]"], ["fcnet_hiddens [64, 64]", "algo.fcnet_hiddens is [32, 32]"]),
        (["algo.fcnet_activation=relu"], ["fcnet_activation tanh", "relu"]),
        (["agent=continuous"], ["acts in Discrete(4)", "agent=continuous"]),
        (["algo.normalize_observations=true"], ["does not standardise its observations", "this run does"]),
        (["algo=ppo"], ["fcnet_hiddens [64, 64]", "[256, 256]"]),  # PPO's default network is larger
    ],
)
def test_a_mismatched_network_or_space_is_refused_naming_what_differs(laner_run, tmp_path, capsys, overrides, names):
    new_run = tmp_path / "new"
    err = refused(capsys, f"init_from={laner_run}", *overrides, f"hydra.run.dir={new_run}")
    assert f"init_from={laner_run / 'tune'}" in err, err
    for name in names:
        assert name in err, err
    assert not new_run.exists()


def test_the_checkpoint_a_run_directory_means(laner_run, tmp_path):
    best = find_checkpoint(laner_run, "best", tmp_path)
    cfg = settings(compose_config([f"init_from={laner_run}"]))
    assert plan(cfg, tmp_path).checkpoint == best
    cfg = settings(compose_config([f"init_from={laner_run}", "init_checkpoint=latest"]))
    assert plan(cfg, tmp_path).checkpoint == find_checkpoint(laner_run, "latest", tmp_path)
    cfg = settings(compose_config([f"init_from={best.relative_to(laner_run.parent)}"]))
    assert plan(cfg, laner_run.parent).checkpoint == best


def test_per_agent_policies_start_as_copies_and_ppo_takes_a_pg_policy_of_its_layout(laner_run, tmp_path):
    cfg = settings(compose_config([f"init_from={laner_run}", "agents.policy=per_agent", "agents.count=2"]))
    assert plan(cfg, tmp_path).sources == {"agent_0": "shared", "agent_1": "shared"}
    cfg = settings(compose_config([f"init_from={laner_run}", "algo=ppo", "algo.fcnet_hiddens=[64,64]"]))
    assert plan(cfg, tmp_path).sources == {"shared": "shared"}


# -- a run never lands on another run --------------------------------------------------------


def test_a_new_run_in_a_finished_runs_directory_is_refused_and_that_run_untouched(laner_run, tmp_path, capsys):
    before = snapshot(laner_run)
    for args in ([], [f"init_from={laner_run}"]):
        err = refused(capsys, *TINY_TRAINING, *args, f"hydra.run.dir={laner_run}")
        assert f"{laner_run} already holds a run: continue it with resume={laner_run}" in err
    sweep = tmp_path / "sweep"
    (sweep / "1" / ".hydra").mkdir(parents=True)
    (sweep / "1" / ".hydra" / "config.yaml").write_text("seed: 0\n")
    err = refused(capsys, "-m", "seed=0,1", f"hydra.sweep.dir={sweep}")
    assert f"{sweep / '1'} already holds a run" in err
    assert snapshot(laner_run) == before


def test_a_directory_that_holds_no_run_stays_fine(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("mine")
    argv = [*TINY_TRAINING, f"hydra.run.dir={tmp_path / 'empty'}"]
    assert preflight(argv) == argv


# -- the warm start on real Algorithms and a real run ----------------------------------------


def observations(count: int) -> np.ndarray:
    from smarts_rl.agents import observation

    space = observation.observation_space()
    space.seed(0)
    return np.stack([space.sample() for _ in range(count)]).astype(np.float32)


def action_dist_inputs(module, obs: np.ndarray) -> np.ndarray:
    import torch
    from ray.rllib.core.columns import Columns

    with torch.no_grad():
        return module.forward_inference({Columns.OBS: torch.as_tensor(obs)})[Columns.ACTION_DIST_INPUTS].numpy()


def build_warm_algorithm(overrides: list[str], cwd: Path):
    """The Algorithm a trial of this run builds (with its warm start), here in the test's Ray."""
    from smarts_rl.run.rllib_setup import build_algorithm_config, register
    from smarts_rl.scenarios.build import build_scenario, scenario_source
    from smarts_rl.run.warm_start import on_algorithm_init

    # Another seed than the source run's: its fresh weights are not the source's initial ones.
    cfg = settings(compose_config([*overrides, "seed=1"]))
    warm = plan(cfg, cwd)
    config = build_algorithm_config(cfg, build_scenario(scenario_source(cfg.scenario, cwd=REPO)), 2)
    config.callbacks(on_algorithm_init=on_algorithm_init(warm))
    register(cfg.algo, config)
    return config.build_algo(), warm


@pytest.mark.parametrize(
    "source, overrides, module_ids",
    [
        # One remote env runner: the weights must reach it too.
        ("laner_run", ["env_runners.num_env_runners=1"], ["shared"]),
        ("laner_run", ["env_runners.num_env_runners=0", "agents.policy=per_agent", "agents.count=2"],
         ["agent_0", "agent_1"]),
        ("laner_run", ["env_runners.num_env_runners=0", "algo=ppo", "algo.fcnet_hiddens=[64,64]"], ["shared"]),
        # Its one policy (agent_0) standardises observations: the statistics come along.
        ("continuous_run", ["env_runners.num_env_runners=0", "agent=continuous", "algo.normalize_observations=true"],
         ["shared"]),
    ],
    ids=["pg", "per_agent_copies", "pg_into_ppo", "observation_statistics"],
)
def test_the_first_action_distribution_is_the_checkpoints(request, ray_local, tmp_path, source, overrides, module_ids):
    from smarts_rl.evaluation.policies import load_modules

    run = request.getfixturevalue(source)
    algo, warm = build_warm_algorithm([f"init_from={run}", "agent.max_episode_steps=60", *overrides], tmp_path)
    try:
        obs = observations(OBSERVATIONS)
        learner = algo.learner_group.get_state(components="learner")["learner"]
        for module_id in module_ids:
            trained = load_modules(warm.checkpoint)[warm.sources[module_id]]
            expected = action_dist_inputs(trained, obs)
            assert np.std(expected) > 0  # a policy that tells observations apart
            trained_state = trained.get_state()
            if source == "continuous_run":
                assert float(np.asarray(trained_state["obs_count"])) > 0
            state = learner["rl_module"][module_id]
            for name, value in trained_state.items():  # policy, value function, everything
                np.testing.assert_array_equal(np.asarray(state[name]), np.asarray(value), err_msg=name)
            # Fresh optimizers (the policy's and the value function's): no moment estimates yet.
            optimizers = [o for o in learner["optimizer"].values() if o["module_id"] == module_id]
            assert optimizers and all(not o["state"]["state"] for o in optimizers)
            on_runners = algo.env_runner_group.foreach_env_runner(
                lambda runner, m=module_id: action_dist_inputs(runner.module[m], obs)
            )
            assert len(on_runners) == 1 + algo.env_runner_group.num_remote_env_runners()
            for inputs in on_runners:
                np.testing.assert_allclose(inputs, expected, rtol=1e-6, atol=1e-6)
    finally:
        algo.stop()


def test_a_grid_run_warm_starts_every_trial_and_trains_on(laner_run):
    """Two grid points at tiny learning rates: after one update each trial's weights are the
    checkpoint's moved a little (Adam moves a weight by about lr per step; a fresh network of
    another seed would be far off), and the run records where it started."""
    run_dir = laner_run.parent / "warm_grid"
    given = laner_run.name  # relative to the working directory, as a user types it
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *TINY_TRAINING, f"init_from={given}", "scheduler=grid",
         "scheduler.grid={lr: [1.0e-6, 2.0e-6]}", "env_runners.num_env_runners=0", "seed=1", f"hydra.run.dir={run_dir}"],
        cwd=laner_run.parent, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    checkpoint = find_checkpoint(laner_run, "best", laner_run)
    assert summary["status"] == "completed" and summary["init_from"] == str(checkpoint)
    assert "init_from: " + given in (run_dir / ".hydra" / "config.yaml").read_text()
    assert len(summary["trials"]) == 2

    def weights(ckpt: Path) -> dict:
        from smarts_rl.evaluation.policies import load_modules

        return {k: v.detach().clone() for k, v in load_modules(ckpt)["shared"].state_dict().items()}

    source = weights(checkpoint)
    for trial in summary["trials"]:
        assert trial["training_iteration"] == 1
        trained = weights(Path(trial["checkpoint"]))
        moved = max(float((trained[k] - source[k]).abs().max()) for k in source)
        assert 0 < moved < 1e-4, (trial["trial_id"], moved)


def test_a_resumed_run_keeps_recording_the_checkpoint_it_started_from(tmp_path):
    from types import SimpleNamespace

    from smarts_rl.run.warm_start import recorded_checkpoint

    started_in = tmp_path / "home"
    checkpoint = started_in / "old" / "checkpoint_000001"
    (checkpoint / MODULES_IN_CHECKPOINT).mkdir(parents=True)
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  runtime:\n    cwd: {started_in}\n")
    cfg = SimpleNamespace(init_from="old/checkpoint_000001", init_checkpoint="best")
    # Killed before its first summary: found again from where the run was started ...
    assert recorded_checkpoint(run, cfg) == str(checkpoint)
    # ... else as its summary recorded it.
    (run / "summary.json").write_text(json.dumps({"init_from": "/recorded/checkpoint"}))
    assert recorded_checkpoint(run, cfg) == "/recorded/checkpoint"
    assert recorded_checkpoint(run, SimpleNamespace(init_from=None, init_checkpoint="best")) is None
