"""No `sumo` and no Ray process of a training run is left behind: after Ctrl-C and after a failure.

(After a completed run: tests/test_env_faults.py, whose runs complete.) Each run gets a session
of its own, so processes of other Ray instances on the machine are not counted.
"""

import json
import signal
from pathlib import Path

import pytest

from tests.fault_injection import FAULT_VARIABLE, REPO
from tests.helpers import ONE_RUNNER, TINY
from tests.run_processes import TrainRun, first_iteration_reported



@pytest.mark.slow
def test_ctrl_c_leaves_no_sumo_or_ray_process(tmp_path):
    run_dir = tmp_path / "run"
    run = TrainRun("stop.training_iteration=50", *TINY, *ONE_RUNNER, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    try:
        run.wait_until(lambda: first_iteration_reported(run_dir) and run.sumo(), "first iteration")
        assert run.kinds == {"sumo", "ray"}, run.kinds
        run.signal_group(signal.SIGINT)  # what Ctrl-C in a terminal does
        assert run.wait(timeout=300) == 130, run.output()[-3000:]
        assert run.leftovers() == []
    finally:
        run.kill()
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"


@pytest.mark.slow
def test_a_failed_run_leaves_no_sumo_or_ray_process(tmp_path):
    run_dir = tmp_path / "run"
    run = TrainRun(
        "stop.training_iteration=3", *TINY, *ONE_RUNNER, "fault_tolerance.restart_failed_sub_environments=false",
        "fault_tolerance.restart_failed_env_runners=false", "fault_tolerance.max_trial_failures=0",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path, script=REPO / "tests" / "fault_injection.py",
        env={FAULT_VARIABLE: "step:50", "PYTHONPATH": str(REPO)},
    )
    try:
        assert run.wait(timeout=400) == 1, run.output()[-3000:]
        assert run.kinds == {"sumo", "ray"}, run.kinds
        assert run.leftovers() == []
    finally:
        run.kill()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["trials"][0]["error"]
    # RLlib ends an env runner whose sampling raised (sys.exit(1)); Tune reports the dead actor.
    assert "exit code 1" in (Path(summary["trials"][0]["path"]) / "error.txt").read_text()
