"""`make test`'s scheduling (tests/xdist_groups.py): the tests of a shared run go to one worker."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

TESTS = '''
import os, pytest

@pytest.mark.parametrize("run", ["laner_run", "continuous_run", "two_seed_sweep", "a", "b", "c"])
@pytest.mark.parametrize("k", range(4))
def test_where(run, k):
    print("ran", run, os.environ["PYTEST_XDIST_WORKER"])
'''


def test_each_shared_runs_tests_run_on_one_worker_and_the_others_spread(tmp_path):
    (tmp_path / "test_where.py").write_text(TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.xdist_groups", "-n", "3", "--dist", "loadgroup",
         "-rA", "-p", "no:cacheprovider", str(tmp_path / "test_where.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stdout[-2000:]
    workers = {}
    for line in result.stdout.splitlines():
        if line.startswith("ran "):
            _, run, worker = line.split()
            workers.setdefault(run, set()).add(worker)
    assert sum(len(w) for w in workers.values()) >= 6, result.stdout[-2000:]
    for run in ("laner_run", "continuous_run", "two_seed_sweep"):
        assert len(workers[run]) == 1, (run, workers)
    assert len(workers["a"] | workers["b"] | workers["c"]) > 1, workers
