"""SIGTERM to `train.py` (a batch scheduler's time limit, a Kubernetes preemption) ends the run as
Ctrl-C does: summary.json "interrupted", the resume line, exit 143, no process left; and
`train.py resume=<run dir>` then completes the run.

The points, recognised on disk as in tests/test_driver_faults.py:
- sampling: one second after the first iteration's row reached the run directory (SIGTERM to the
  run's whole process group, as a time limit sends it; at the other points to train.py alone);
- checkpoint: as soon as the first checkpoint's directory appears (while Tune copies it in);
- pbt_exploit: as soon as `exploits.jsonl` gets its first line.
"""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.helpers import TINY
from tests.run_processes import TrainRun
from tests.test_driver_faults import RUN_ARGS, iterations, train

ITERATIONS = {"sampling": 3, "checkpoint": 3, "pbt_exploit": 3}
ARGS = {
    "sampling": ["env_runners.num_env_runners=1"],
    "checkpoint": ["checkpoint.frequency=1", "env_runners.num_env_runners=1"],
    "pbt_exploit": RUN_ARGS["pbt_exploit"],
}


def at(point: str, run_dir) -> bool:
    tune_dir = run_dir / "tune"
    if point == "sampling":
        return any(p.stat().st_size > 0 for p in tune_dir.glob("trial_*/result.json"))
    if point == "checkpoint":
        return any(tune_dir.glob("trial_*/checkpoint_*"))
    exploits = run_dir / "exploits.jsonl"
    return exploits.is_file() and exploits.stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("point", ["sampling", "checkpoint", "pbt_exploit"])
def test_sigterm_ends_the_run_as_ctrl_c_does_and_resume_completes_it(tmp_path, point):
    run_dir = tmp_path / point
    run = TrainRun(f"stop.training_iteration={ITERATIONS[point]}", *TINY, *ARGS[point], f"hydra.run.dir={run_dir}",
                   cwd=tmp_path)
    try:
        run.wait_until(lambda: at(point, run_dir), point)
        if point == "sampling":
            time.sleep(1.0)
            run.signal_group(signal.SIGTERM)  # to the run's process group, as `timeout` sends it
        else:
            os.kill(run.popen.pid, signal.SIGTERM)  # to train.py, as Kubernetes or `kill <pid>` send it
        assert run.wait(timeout=300) == 143, run.output()[-3000:]
        assert run.leftovers() == []
    finally:
        run.kill()
    output = run.output()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted", summary.get("error")
    assert f"continue it with: python train.py resume={run_dir}" in output
    assert "SIGTERM: stopping the run" in output
    # Neither Ray's native stack nor Tune's own advice (Tuner.restore).
    assert "SIGTERM received" not in output and "PC: @" not in output and "Tuner.restore" not in output
    before = {t["trial_id"]: t["training_iteration"] for t in summary["trials"]}
    assert before and all(i < ITERATIONS[point] for i in before.values()), before

    result = train("resume=" + str(run_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed", summary.get("error")
    for trial in summary["trials"]:
        assert iterations(Path(trial["path"]))[-1] == ITERATIONS[point]


@pytest.mark.slow
def test_sigterm_in_a_multirun_starts_no_further_job(tmp_path):
    sweep = tmp_path / "sweep"
    run = TrainRun("-m", "seed=0,1", "stop.training_iteration=20", *TINY, "env_runners.num_env_runners=1",
                   f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    try:
        run.wait_until(lambda: at("sampling", sweep / "0"), "the first job's first iteration")
        os.kill(run.popen.pid, signal.SIGTERM)
        assert run.wait(timeout=300) == 143, run.output()[-3000:]
        assert run.leftovers() == []
    finally:
        run.kill()
    assert json.loads((sweep / "0" / "summary.json").read_text())["status"] == "interrupted"
    assert not (sweep / "1" / "summary.json").exists() and not (sweep / "1" / "tune").exists()
    rows = (sweep / "sweep_summary.csv").read_text().splitlines()
    assert len(rows) == 2 and ",interrupted," in rows[1], rows


def test_exit_code_after_sigterm_is_143_and_after_ctrl_c_130():
    from smarts_rl.cli import exit_code

    assert exit_code(["interrupted"], sigterm=True) == 143
    assert exit_code(["interrupted"]) == 130
    assert exit_code(["completed"], sigterm=True) == 0
    assert exit_code(["failed", "interrupted"], sigterm=True) == 1
