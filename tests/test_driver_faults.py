"""`kill -9` of a whole training run at chosen points, then `train.py resume=<run dir>` finishes it.

Each case starts `train.py` in a session of its own, watches the run directory until the run is
at the point, SIGKILLs every process of the session at once (as a crashed or preempted machine
would stop them), and resumes. Ray starts its workers (trial actors, env runners) in process
groups of their own, so killing only the driver's process group would let a trial actor go on
for a moment, for instance finishing the checkpoint it was copying.

The points, each recognised on disk:
- sampling: after the second iteration's row reached the run directory, one second into the
  next iteration (nearly all of an iteration is sampling; a checkpoint takes ~0.1 s);
- checkpoint: while Tune copies the trainable's checkpoint (written first to a temp directory)
  into the trial directory. As soon as a checkpoint's directory appears, every process of the run
  is frozen (SIGSTOP) and the copy looked at: if it is still partial the run is killed there, and
  if it already finished the run goes on to the next checkpoint. The policy is made large (~100 MB
  of checkpoint) so that the copy takes ~0.1-0.3 s and the first try nearly always catches it;
- pbt_exploit: as soon as `exploits.jsonl` gets its first line (written inside the exploit,
  before the exploited trial is paused and restored from the other trial's checkpoint).
"""

import json
import os
import pickletools
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smarts_rl.run_dir.trial_results import flatten, read_results
from tests.helpers import TINY
from tests.test_progress_table import assert_table_is_result_json

REPO = Path(__file__).resolve().parent.parent
ITERATIONS = {"sampling": 4, "checkpoint": 7, "pbt_exploit": 3}
COPY_TRIES = 5  # checkpoints 1..5 (iterations 2..6) are chances to catch a copy mid-way
RUN_ARGS = {
    # Two env runners: the run is resumed on fewer (see RESUME_ARGS).
    "sampling": ["checkpoint.frequency=1", "env_runners.num_env_runners=2"],
    # vf_iters=1: the big value network's extra gradient steps are not what this case is about.
    "checkpoint": ["checkpoint.frequency=1", "algo.fcnet_hiddens=[2048,2048]", "algo.vf_iters=1",
                   "env_runners.num_env_runners=1"],
    "pbt_exploit": ["env_runners.num_env_runners=1",
        "scheduler=pbt", "scheduler.population_size=2", "scheduler.perturbation_interval=1",
        "scheduler.quantile_fraction=0.5", "scheduler.hyperparam_mutations.train_batch_size=[200]",
        "scheduler.hyperparam_mutations.entropy_coeff=[0.0]",
    ],
}
# Resumed on other resources: one env runner, and one checkpoint kept per trial.
RESUME_ARGS = {"sampling": ["env_runners.num_env_runners=1", "checkpoint.num_to_keep=1"]}
REACH_TIMEOUT_S = 400


def train(*args, cwd, timeout=900):
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def iterations(trial_dir: Path) -> list[int]:
    return [r["training_iteration"] for r in read_results(trial_dir)]


def written_rows(trial_dir: Path) -> list[dict]:
    """Every complete line of result.json, an iteration trained again after a resume included."""
    rows = []
    for line in (trial_dir / "result.json").read_text().splitlines():
        try:
            rows.append(flatten(json.loads(line)))
        except json.JSONDecodeError:
            pass
    return rows


def session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes of session `sid`, read straight from /proc (fast)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.getsid(int(name)) != sid:
                continue
            with open(f"/proc/{name}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            pids.append(int(name))
    return pids


def signal_session(process: subprocess.Popen, signum: int) -> None:
    for pid in session_processes(process.pid):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def kill_session(process: subprocess.Popen) -> None:
    """SIGKILL every process of the driver's session at once, as a crashed machine ends them, then
    wait. Ray's processes run in process groups of their own, so no one signal reaches them all:
    the session is frozen first (twice, for a process forked meanwhile), then killed, so that no
    process of it goes on for a moment after the driver died (an env runner or a trial writing a
    checkpoint the driver never learnt of)."""
    for _ in range(2):
        signal_session(process, signal.SIGSTOP)
    signal_session(process, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    while session_processes(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session_processes(process.pid) == [], "processes of the killed run survived SIGKILL"


def reached(point: str, run_dir: Path) -> bool:
    tune_dir = run_dir / "tune"
    if point == "sampling":
        return any(len(read_results(p.parent)) >= 2 for p in tune_dir.glob("trial_*/result.json"))
    exploits = run_dir / "exploits.jsonl"
    return exploits.is_file() and exploits.stat().st_size > 0


def run_until_killed(point: str, run_dir: Path, cwd: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), f"stop.training_iteration={ITERATIONS[point]}", *TINY,
         *RUN_ARGS[point], f"hydra.run.dir={run_dir}"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        if point == "checkpoint":
            freeze_during_a_checkpoint_copy(process, run_dir)
            return
        wait_until(lambda: reached(point, run_dir), process, point)
        if point == "sampling":
            time.sleep(1.0)
    finally:
        kill_session(process)


def wait_until(condition, process: subprocess.Popen, point: str, poll_s: float = 0.05) -> None:
    deadline = time.monotonic() + REACH_TIMEOUT_S
    while not condition():
        assert process.poll() is None, f"training ended before reaching {point}"
        assert time.monotonic() < deadline, f"training did not reach {point} in {REACH_TIMEOUT_S} s"
        time.sleep(poll_s)


def freeze_during_a_checkpoint_copy(process: subprocess.Popen, run_dir: Path) -> None:
    """Leave the run frozen (SIGSTOP) with a checkpoint copied only in part; the caller kills it.

    Whether the copy is caught mid-way depends on how fast this machine copies, so each of the
    first COPY_TRIES checkpoints is a chance: a copy found finished lets the run go on.
    """
    tune_dir = run_dir / "tune"
    for index in range(1, COPY_TRIES + 1):
        name = f"checkpoint_{index:06d}"
        wait_until(lambda: any(tune_dir.glob(f"trial_*/{name}")), process, "checkpoint", poll_s=0.001)
        signal_session(process, signal.SIGSTOP)
        [trial_dir] = tune_dir.glob("trial_*")
        whole = checkpoint_files(trial_dir / f"checkpoint_{index - 1:06d}")
        if checkpoint_files(trial_dir / name) != whole or not readable(trial_dir / name):
            return
        signal_session(process, signal.SIGCONT)
    raise AssertionError(f"each of {COPY_TRIES} checkpoint copies finished before the run was frozen")


def checkpoint_files(checkpoint: Path) -> set[str]:
    return {str(f.relative_to(checkpoint)) for f in checkpoint.rglob("*") if f.is_file()}


def readable(checkpoint: Path) -> bool:
    """Every pickle runs to its STOP opcode and every json parses (without unpickling anything)."""
    try:
        for f in checkpoint.rglob("*.pkl"):
            with open(f, "rb") as stream:
                for _ in pickletools.genops(stream):
                    pass
        for f in checkpoint.rglob("*.json"):
            json.loads(f.read_text())
    except Exception:
        return False
    return True


def restored_iteration(trial_dir: Path, done_before: int) -> int:
    """The iteration the resumed run restored: the row just before its first one."""
    rows = read_results(trial_dir)  # the resumed run's rows replace those it trained again
    resumed = [r for r in rows[1:] if r["iterations_since_restore"] == 1]
    assert resumed, "no row of the resumed run"
    return resumed[-1]["training_iteration"] - 1


@pytest.mark.slow
@pytest.mark.parametrize("point", ["sampling", "checkpoint", "pbt_exploit"])
def test_resume_after_sigkill_completes_the_run(tmp_path, point):
    run_dir = tmp_path / point
    run_until_killed(point, run_dir, tmp_path)
    time.sleep(0.5)
    trial_dirs = sorted((run_dir / "tune").glob("trial_*"))
    done_before = {d.name: iterations(d) for d in trial_dirs}
    checkpoints_before = {c: checkpoint_files(c) for d in trial_dirs for c in sorted(d.glob("checkpoint_*"))}
    readable_before = {c: readable(c) for c in checkpoints_before}
    exploits_before = (run_dir / "exploits.jsonl").read_text().splitlines() if point == "pbt_exploit" else []

    final, stop = ITERATIONS[point], []
    if point == "checkpoint":  # one iteration past the one killed is enough (its budget left room for the tries)
        final = len(done_before[trial_dirs[0].name]) + 1
        stop = [f"stop.training_iteration={final}"]
    result = train("resume=" + str(run_dir), *RESUME_ARGS.get(point, []), *stop, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed", summary.get("error")
    assert len(summary["trials"]) == len(trial_dirs) == (2 if point == "pbt_exploit" else 1)
    # A trial that copies a trial ahead of it (the other started late) goes on from that trial's
    # iteration: its next row is the copied iteration + 1.
    jumps = set()
    if point == "pbt_exploit":
        for line in (run_dir / "exploits.jsonl").read_text().splitlines():
            exploit = json.loads(line)
            jumps.add((f"trial_{exploit['trial_id']}", exploit["cloned_iteration"] + 1))
    for trial in summary["trials"]:
        assert trial["training_iteration"] == final
        trial_dir = Path(trial["path"])
        now = iterations(trial_dir)
        before = done_before[trial_dir.name]
        assert now[: len(before)] == before == list(range(1, len(before) + 1))  # kept, not restarted
        # Each once (a redone iteration's last row), in order, without a gap but an exploit's.
        assert now[0] == 1 and now[-1] == final, now
        for previous, following in zip(now, now[1:]):
            assert previous < following and (following == previous + 1 or (trial_dir.name, following) in jumps), (now, jumps)
        assert len(written_rows(trial_dir)) <= final + 1  # at most one redone
        # progress.csv reads back as result.json, through every kill point.
        assert assert_table_is_result_json(trial_dir) == now

    # Every checkpoint left behind is whole, and so is the one each trial's summary names.
    reference = checkpoint_files(Path(summary["trials"][0]["checkpoint"]))
    for trial in summary["trials"]:
        for checkpoint in Path(trial["path"]).glob("checkpoint_*"):
            assert checkpoint_files(checkpoint) == reference and readable(checkpoint), checkpoint

    if point == "checkpoint":
        # The kill cut the copy of the newest checkpoint short ...
        [trial_dir] = trial_dirs
        *earlier, partial = sorted(checkpoints_before)
        assert checkpoints_before[partial] != reference or not readable_before[partial]
        # ... and the resumed run restored from the whole one before it (checkpoint_k holds iteration k+1).
        last_whole = earlier[-1]
        assert readable_before[last_whole] and checkpoints_before[last_whole] == reference
        restored = restored_iteration(trial_dir, len(done_before[trial_dir.name]))
        assert restored == int(last_whole.name.split("_")[1]) + 1

    if point == "sampling":
        # Sampled with two env runners before the kill, with one after it; one checkpoint kept.
        [trial_dir] = trial_dirs
        runners = [r["fault_tolerance/num_healthy_workers"] for r in written_rows(trial_dir)]
        done = len(done_before[trial_dir.name])
        assert set(runners[:done]) == {2} and set(runners[done:]) == {1}, runners
        assert len(list(trial_dir.glob("checkpoint_*"))) == 1
        # Changes of what a finished run learns are refused. (Extending it with a larger stop.*
        # budget: tests/test_bench_learning.py, whose stopped seed is continued so.)
        refused = train("resume=" + str(run_dir), "algo.lr=0.1", cwd=tmp_path)
        assert refused.returncode == 2 and "not what its trials learn" in refused.stderr

    if point == "pbt_exploit":
        assert exploits_before, "the kill came during an exploit"
        # Every exploit on record took effect (one the kill cut off before Tune saved it is
        # dropped at resume): the exploited trial's next iteration trained with the new lr.
        exploits = [json.loads(line) for line in (run_dir / "exploits.jsonl").read_text().splitlines()]
        assert exploits, "a perturbation every iteration: the resumed run exploits too"
        reported_after = 0
        for exploit in exploits:
            rows = read_results(run_dir / "tune" / f"trial_{exploit['trial_id']}")
            after = [r for r in rows if r["timestamp"] >= exploit["time"]]
            if after:
                reported_after += 1
                lr = after[0]["learners/shared/policy_learning_rate"]
                assert lr == pytest.approx(exploit["new_config"]["lr"], rel=1e-6), exploit
        assert reported_after, "an exploited trial reported again after its exploit"
        assert sorted(t["config"]["seed"] for t in summary["trials"]) == [0, 1]  # seed + trial index
        assert all(t["checkpoint"] for t in summary["trials"])


def exploit_line(t: float) -> str:
    return json.dumps({"trial_id": "a", "cloned_trial_id": "b", "time": t, "new_config": {"lr": 0.1}})


def test_resume_forgets_exploits_the_experiment_state_never_saved(tmp_path):
    from smarts_rl.run_dir.layout import EXPLOITS_FILE
    from smarts_rl.schedulers.pbt import drop_unsaved_exploits

    state = tmp_path / "experiment_state-x.json"
    metas = [{"last_result_time": 100.0}, {"last_result_time": float("-inf")}]
    state.write_text(json.dumps({"trial_data": [["{}", json.dumps(m)] for m in metas]}))
    # Saved (before the last saved result), not saved (after it), and a line a kill cut short.
    (tmp_path / EXPLOITS_FILE).write_text(exploit_line(99.5) + "\n" + exploit_line(100.5) + "\n" + '{"trial_id": "a", "ti')
    assert drop_unsaved_exploits(tmp_path, state) == 2
    assert (tmp_path / EXPLOITS_FILE).read_text() == exploit_line(99.5) + "\n"


def test_synchronous_pbt_does_not_wait_forever_when_every_trial_is_at_the_sync_point(tmp_path):
    """After a resume the trials may restart from different iterations; the first exploit then left
    both at the sync point (Tune's PBT ran none of them, forever)."""
    from types import SimpleNamespace

    from ray.tune.experiment import Trial

    from smarts_rl.schedulers.pbt import Settings

    pbt = Settings(perturbation_interval=1, hyperparam_mutations={"lr": [0.1]}).tune_scheduler("m", "max", tmp_path)
    class FakeTrial:  # hashable, as Tune's trials are
        status = Trial.PAUSED

    trials = [FakeTrial(), FakeTrial()]
    for trial in trials:
        pbt._trial_state[trial] = SimpleNamespace(last_train_time=2)
    controller = SimpleNamespace(get_trials=lambda: trials, get_live_trials=lambda: trials)
    pbt._next_perturbation_sync = 2
    assert pbt.choose_trial_to_run(controller) in trials
    assert pbt._next_perturbation_sync == 3
    # While one trial still runs, the others wait for it, as before.
    trials[1].status = Trial.RUNNING
    pbt._next_perturbation_sync = 2
    assert pbt.choose_trial_to_run(controller) is None
