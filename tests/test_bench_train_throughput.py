"""bench/train_throughput.py: its accounting of CPU per process (on a real process tree) and its
argument errors. Fast: no SMARTS, no Ray."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from smarts_rl.bench_harness import process_cpu

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench" / "train_throughput.py"
sys.path.insert(0, str(REPO / "bench"))

import train_throughput  # noqa: E402


@pytest.mark.parametrize("name, cmdline, expected", [
    ("python", ["/venv/bin/python", "train.py", "scenario=loop"], "other:python"),
    ("ray::PG.train", ["ray::PG.train"], "trial"),
    ("ray::PG", ["ray::PG.__init__", ""], "trial"),
    ("ray::MultiAgent", ["ray::MultiAgentRunner.apply"], "env_runner"),
    ("ray::SingleAgen", ["ray::SingleAgentEnvRunner"], "env_runner"),
    ("ray::IDLE", ["ray::IDLE"], "ray:idle_worker"),
    ("ray::Dashboard", ["ray::DashboardAgent"], "ray:dashboard_agent"),
    ("raylet", ["/venv/lib/python3.11/site-packages/ray/core/src/ray/raylet/raylet", "--raylet_socket_name=x"], "ray:raylet"),
    ("gcs_server", ["/venv/lib/python3.11/site-packages/ray/core/src/ray/gcs/gcs_server", "--log_dir=x"], "ray:gcs_server"),
    ("python", ["/venv/bin/python", "-u", "/venv/lib/python3.11/site-packages/ray/_private/log_monitor.py"], "ray:log_monitor"),
    ("python", ["/venv/bin/python", "/venv/lib/python3.11/site-packages/ray/dashboard/dashboard.py"], "ray:dashboard"),
    ("sumo", ["/venv/lib/python3.11/site-packages/sumo/bin/sumo", "--remote-port=1"], "sumo"),
    ("python", ["/venv/bin/python", "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)",
                "--multiprocessing-fork"], "plain"),
])
def test_processes_are_sorted_by_their_titles(name, cmdline, expected):
    assert process_cpu.kind(name, cmdline) == expected


def test_cpu_between_two_moments_is_interpolated_between_samples_and_kept_after_the_last():
    process = process_cpu.Process(pid=1, ppid=0, created=0.0, kind="sumo", samples=[(1.0, 0.5), (2.0, 1.5)])
    assert process_cpu.cpu_seconds(process, 0.5, 1.5) == pytest.approx(1.0 - 0.25)
    assert process_cpu.cpu_seconds(process, -1.0, 0.0) == 0.0  # before it existed
    assert process_cpu.cpu_seconds(process, 1.5, 10.0) == pytest.approx(0.5)  # ended after its last sample


# A parent (the tree's root) starts, the way the limit's plain SMARTS do, a multiprocessing "spawn"
# child; that child runs a busy `sumo` (a Python under that name) and two Python children of its
# own, one spawned and one forked (as SMARTS does), to their ends, then is busy itself.
TREE = textwrap.dedent("""
    import multiprocessing, subprocess, sys, time

    def busy(seconds):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    def plain(sumo):
        subprocess.run([sumo, "-c", "import time\\nend = time.process_time() + 0.6\\nwhile time.process_time() < end: pass"], check=True)
        for start_method, seconds in (("spawn", 0.4), ("fork", 0.3)):
            child = multiprocessing.get_context(start_method).Process(target=busy, args=(seconds,))
            child.start()
            child.join()
        busy(0.3)

    if __name__ == "__main__":
        child = multiprocessing.get_context("spawn").Process(target=plain, args=(sys.argv[1],))
        child.start()
        child.join()
        print("done", flush=True)
        time.sleep(60)
""")


def test_a_tree_s_cpu_is_counted_per_process_kind_those_that_ended_too(tmp_path):
    sumo = tmp_path / "sumo"
    sumo.symlink_to(os.path.realpath(sys.executable))
    script = tmp_path / "tree.py"
    script.write_text(TREE)
    parent = subprocess.Popen([sys.executable, str(script), str(sumo)], stdout=subprocess.PIPE, text=True)
    try:
        start = time.time()
        with process_cpu.TreeSampler(parent.pid, root_kind="bench", interval_s=0.02) as sampler:
            assert parent.stdout.readline().strip() == "done"
        end = time.time()
    finally:
        parent.kill()
        parent.wait()
    processes = list(sampler.processes.values())
    cpu = process_cpu.cpu_per_1k_steps(processes, lambda _: (start, end), steps=1000)  # CPU seconds as they are
    kinds = {p.kind for p in processes}
    assert {"bench", "plain", "sumo", "python_child"} <= kinds, kinds
    # The sumo, the Python child and the plain process ended before the last sample: their last
    # samples count, short of at most one interval each.
    assert 0.5 <= cpu["sumo"] <= 0.75, cpu
    assert 0.65 <= cpu["each"]["python_child of plain 1"] == cpu["python_child"] <= 1.6, cpu  # a start adds to 0.4 + 0.3 s
    assert [p.kind for p in processes].count("plain") == 1
    assert 0.25 <= cpu["each"]["plain 1"] == cpu["plain"] <= 1.5, cpu  # its start adds to its 0.3 s
    assert cpu["each"]["sumo of plain 1"] == cpu["sumo"]
    assert cpu["total"] == pytest.approx(sum(v for k, v in cpu.items() if k not in ("ray", "total", "each")), abs=0.01)
    # Outside the window, nothing: the same tree over its first instant used no CPU.
    assert process_cpu.cpu_per_1k_steps(processes, lambda _: (start - 10, start - 5), steps=1000)["total"] == 0


@pytest.mark.parametrize("arguments, names", [
    (["--runners", "2", "0"], "--runners"),
    (["--envs-per-runner", "0"], "--envs-per-runner"),
    (["--iterations", "1"], "--iterations"),
    (["--repeats", "0"], "--repeats"),
    (["--limit-seconds", "-1"], "--limit-seconds"),
    (["--scenario", "nowhere"], "--scenario"),
    (["--settings", "defaults", "--runners", "2"], "--runners"),
    (["--settings", "all"], "--settings"),
    (["--baseline", "no-such-ref-anywhere"], "--baseline"),
])
def test_bad_arguments_are_one_line_naming_the_argument_and_exit_2(arguments, names, capsys):
    with pytest.raises(SystemExit) as exit:
        train_throughput.arguments(arguments)
    assert exit.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("train_throughput: error: argument " + names), line


def worktrees() -> set[str]:
    listed = subprocess.run(["git", "-C", str(REPO), "worktree", "list", "--porcelain"], capture_output=True, text=True)
    return {line for line in listed.stdout.splitlines() if line.startswith("worktree ")}


def test_a_bad_baseline_stops_the_bench_before_anything_starts():
    before = worktrees()
    result = subprocess.run([sys.executable, str(BENCH), "--baseline", "HEAD~100000"], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"train_throughput: error: argument --baseline: 'HEAD~100000' names no commit of {REPO}\n"
    assert worktrees() == before


def test_good_arguments_resolve_the_baseline_and_the_defaults():
    args = train_throughput.arguments(["--baseline", "HEAD", "--settings", "defaults"])
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert args.baseline_commit == head
    assert (args.runners, args.envs_per_runner, args.repeats) == ([1, 2], [1, 2], 1)
