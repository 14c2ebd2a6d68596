"""Crashed simulations on real SMARTS, SUMO and Ray: a killed `sumo`, an env step that raises.

The env notices sumo's death, RLlib's fault tolerance (`fault_tolerance:` in conf/config.yaml)
rebuilds the env and drops the broken episode, training completes, and no process is left.
"""

import json
import signal
import time
from pathlib import Path

import psutil
import pytest

from smarts_rl.agents import AgentSettings
from smarts_rl.env import SmartsEnv, env_config
from smarts_rl.env.smarts_env import SumoDiedError
from smarts_rl.run_dir.trial_results import read_results
from tests import fault_injection
from tests.helpers import MAX_EPISODE_STEPS, ONE_RUNNER, TINY, sumo_children
from tests.run_processes import TrainRun, describe, first_iteration_reported, is_sumo

REPO = Path(__file__).resolve().parent.parent


def make_env(scenario, env_class=SmartsEnv, max_episode_steps=100):
    return env_class(env_config(scenario, AgentSettings(name="laner", max_episode_steps=max_episode_steps)))


# -- the env ---------------------------------------------------------------------------------


def test_a_step_after_sumo_died_raises_and_close_leaves_no_sumo(map_only_scenario):
    env = make_env(map_only_scenario)
    try:
        env.reset(seed=0)
        env.step({"agent_0": 0})
        [sumo] = sumo_children()
        sumo.kill()
        sumo.wait(5)
        with pytest.raises(SumoDiedError, match="sumo died at step 2"):
            env.step({"agent_0": 0})
    finally:
        env.close()
    assert sumo_children() == []


def test_close_stops_sumo_even_when_smarts_fails_to_tear_down(map_only_scenario):
    env = make_env(map_only_scenario)
    env.reset(seed=0)
    env.step({"agent_0": 0})
    [sumo] = sumo_children()

    def broken_teardown():
        raise RuntimeError("teardown of a crashed simulation")

    smarts = env.simulation
    smarts.teardown = broken_teardown  # SMARTS.destroy() starts with it, then stops sumo
    env.close()  # logs, does not raise
    del smarts.teardown  # SMARTS's own again, for its __del__
    psutil.wait_procs([sumo], timeout=5)
    assert sumo_children() == []


def test_an_env_runner_drops_the_episode_whose_step_failed(map_only_scenario, monkeypatch):
    """In-process MultiAgentRunner: the broken episode is in neither the batch nor the metrics."""
    from ray.rllib.utils.metrics.metrics_logger import MetricsLogger
    from ray.tune.registry import register_env

    from smarts_rl.config import compose_config, settings
    from smarts_rl.run.fault_tolerance import MultiAgentRunner
    from smarts_rl.run.rllib_setup import ENV_NAME, build_algorithm_config

    cfg = settings(compose_config([*TINY, "env_runners.num_env_runners=0"]))
    register_env(ENV_NAME, fault_injection.FaultySmartsEnv)
    monkeypatch.setenv(fault_injection.FAULT_VARIABLE, "step:30")
    monkeypatch.setattr(fault_injection, "_steps_in_this_process", 0)
    runner = MultiAgentRunner(config=build_algorithm_config(cfg, map_only_scenario))
    try:
        [episode] = runner.sample()  # batch_mode complete_episodes: one whole episode per call
        metrics = MetricsLogger.peek_results(runner.get_metrics())
    finally:
        runner.stop()
        register_env(ENV_NAME, SmartsEnv)
    assert episode.is_done and 0 < len(episode) <= 100
    assert metrics["num_env_step_failures"] == 1
    assert metrics["num_episodes"] == 1  # the broken one is not counted...
    assert metrics["episode_return_mean"] == pytest.approx(episode.get_return())  # ...nor its return
    # Its 29 steps were simulated, so they count as sampled.
    assert metrics["num_env_steps_sampled_lifetime"] == 29 + len(episode)
    assert sumo_children() == []


class SeedRecordingEnv(SmartsEnv):
    seeds: list = []

    def reset(self, *, seed=None, options=None):
        SeedRecordingEnv.seeds.append(seed)
        return super().reset(seed=seed, options=options)


def test_an_env_runner_seeds_its_env_at_the_first_reset_only(map_only_scenario):
    """RLlib 2.60 passes the runner's seed to every complete-episode `sample()`'s reset, which
    replayed the same episode each time (fault_tolerance.SeedFirstResetOnly)."""
    from ray.tune.registry import register_env

    from smarts_rl.config import compose_config, settings
    from smarts_rl.run.fault_tolerance import MultiAgentRunner
    from smarts_rl.run.rllib_setup import ENV_NAME, build_algorithm_config

    cfg = settings(compose_config([*TINY, "env_runners.num_env_runners=0", "agent.max_episode_steps=5"]))
    register_env(ENV_NAME, SeedRecordingEnv)
    SeedRecordingEnv.seeds = []
    runner = MultiAgentRunner(config=build_algorithm_config(cfg, map_only_scenario))
    try:
        for _ in range(3):
            runner.sample()  # batch_mode complete_episodes: a reset at each call
    finally:
        runner.stop()
        register_env(ENV_NAME, SmartsEnv)
    first, *later = SeedRecordingEnv.seeds
    assert first is not None and len(later) >= 2
    assert later == [None] * len(later)


# -- training ----------------------------------------------------------------------------------


def busy(process: psutil.Process) -> bool:
    """sumo is stepping (mid-episode) rather than idle between iterations."""
    try:
        before = sum(process.cpu_times()[:2])
        time.sleep(0.3)
        return sum(process.cpu_times()[:2]) > before
    except psutil.Error:
        return False


@pytest.mark.slow
def test_training_survives_a_killed_sumo_and_leaves_no_process(tmp_path):
    run_dir = tmp_path / "run"
    run = TrainRun("stop.training_iteration=5", *TINY, *ONE_RUNNER, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    sumo = []

    def sumo_stepping() -> bool:
        sumo[:] = [p for p in run.poll() if is_sumo(p) and busy(p)]
        return first_iteration_reported(run_dir) and bool(sumo)

    try:
        # A kill that lands between two episodes costs nothing (the next reset starts a new
        # sumo) and is not a failed step: kill again until a result reports one.
        for _ in range(3):
            run.wait_until(sumo_stepping, "iteration, then sumo stepping")
            reported = len(result_lines(run_dir))
            sumo[0].send_signal(signal.SIGKILL)
            while run.popen.poll() is None and len(result_lines(run_dir)) == reported:
                time.sleep(0.2)
            if step_failures(run_dir) or run.popen.poll() is not None:
                break
        assert run.wait(timeout=400) == 0, run.output()[-3000:]
        assert run.leftovers() == []
    finally:
        run.kill()
    assert_completed_despite_one_failed_step(run_dir, iterations=5)


def result_lines(run_dir: Path) -> list[dict]:
    # read_results: skips a line Tune is still writing.
    return [r for trial in (run_dir / "tune").glob("trial_*") for r in read_results(trial)]


def step_failures(run_dir: Path) -> int:
    return max((r.get("env_runners/num_env_step_failures", 0) for r in result_lines(run_dir)), default=0)


@pytest.mark.slow
def test_training_survives_a_killed_env_runner_process(tmp_path):
    run_dir = tmp_path / "run"
    run = TrainRun("stop.training_iteration=3", *TINY, *ONE_RUNNER, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    runners = []

    def runner_running() -> bool:
        runners[:] = [p for p in run.poll() if "ray::MultiAgentRunner" in describe(p)]
        return first_iteration_reported(run_dir) and bool(runners)

    try:
        run.wait_until(runner_running, "iteration")
        runners[0].kill()
        assert run.wait(timeout=600) == 0, run.output()[-3000:]
        assert run.leftovers() == []
    finally:
        run.kill()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    [trial] = summary["trials"]
    assert trial["training_iteration"] == 3 and trial["env_runner_restarts"] == 1
    # Every iteration sampled and trained: none ended empty while Ray restarted the runner. The
    # one the kill cut short may train on what the runner sampled before it died.
    sampled = [result["env_runners/num_env_steps_sampled"] for result in read_results(trial["path"])]
    assert all(steps > 0 for steps in sampled) and sum(steps < 200 for steps in sampled) <= 1, sampled


def assert_completed_despite_one_failed_step(run_dir: Path, iterations: int) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    [trial] = summary["trials"]
    assert trial["training_iteration"] == iterations
    # The env runner rebuilt its env (once); its process was not restarted.
    assert trial["env_step_failures"] == 1 and trial["env_runner_restarts"] == 0
    for result in read_results(trial["path"]):  # no episode stitched from a broken one and the next
        assert result["env_runners/episode_len_max"] <= MAX_EPISODE_STEPS


@pytest.mark.slow
def test_training_survives_an_env_step_that_raises(tmp_path):
    run_dir = tmp_path / "run"
    run = TrainRun(
        "stop.training_iteration=2", *TINY, *ONE_RUNNER, f"hydra.run.dir={run_dir}", cwd=tmp_path,
        script=REPO / "tests" / "fault_injection.py",
        env={fault_injection.FAULT_VARIABLE: "step:150", "PYTHONPATH": str(REPO)},
    )
    try:
        assert run.wait(timeout=400) == 0, run.output()[-3000:]
        assert run.kinds == {"sumo", "ray"}
        assert run.leftovers() == []
    finally:
        run.kill()
    assert_completed_despite_one_failed_step(run_dir, iterations=2)  # the fault came in the first


@pytest.mark.slow
def test_tune_restarts_a_failed_trial_from_its_checkpoint(tmp_path):
    """With RLlib's own restarts off, a failed env step fails the trial; Tune starts it again
    from its latest checkpoint (`fault_tolerance.max_trial_failures`) and the run completes."""
    run_dir, fired = tmp_path / "run", tmp_path / "fault_fired"
    run = TrainRun(
        "stop.training_iteration=2", *TINY, *ONE_RUNNER, "checkpoint.frequency=1",
        "fault_tolerance.restart_failed_sub_environments=false", "fault_tolerance.restart_failed_env_runners=false",
        "fault_tolerance.max_trial_failures=1", f"hydra.run.dir={run_dir}", cwd=tmp_path,
        script=REPO / "tests" / "fault_injection.py",
        env={fault_injection.FAULT_VARIABLE: "step:350", fault_injection.ONCE_VARIABLE: str(fired),
             "PYTHONPATH": str(REPO)},
    )
    try:
        assert run.wait(timeout=400) == 0, run.output()[-3000:]
        assert run.leftovers() == []
    finally:
        run.kill()
    assert fired.exists()
    summary = json.loads((run_dir / "summary.json").read_text())
    [trial] = summary["trials"]
    assert (Path(trial["path"]) / "error.txt").exists()  # the trial did fail once
    assert summary["status"] == "completed" and trial["error"] is None
    iterations = [r["training_iteration"] for r in read_results(trial["path"])]
    # The fault came in the second iteration: the restart went on from the first's checkpoint,
    # not from scratch.
    assert iterations[-1] == 2 and iterations.count(1) == 1, iterations
