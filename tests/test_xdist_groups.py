"""`make test`'s scheduling (tests/xdist_groups.py): the tests of a shared run go to one worker."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

TESTS = '''
import os, pytest

@pytest.mark.parametrize("run", ["laner_run", "continuous_run", "two_seed_sweep", "set_run", "a", "b", "c"])
@pytest.mark.parametrize("k", range(4))
def test_where(run, k):
    print("ran", run, os.environ["PYTEST_XDIST_WORKER"])
'''


def pytest_with_the_plugin(tests: Path, *options: str) -> subprocess.CompletedProcess:
    """pytest with only tests/xdist_groups.py as plugin, on a generated test file."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.xdist_groups", *options, "-p", "no:cacheprovider", str(tests)],
        cwd=tests.parent, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_each_shared_runs_tests_run_on_one_worker_and_the_others_spread(tmp_path):
    (tmp_path / "test_where.py").write_text(TESTS)
    result = pytest_with_the_plugin(tmp_path / "test_where.py", "-n", "3", "--dist", "loadgroup", "-rA")
    assert result.returncode == 0, result.stdout[-2000:]
    workers = {}
    for line in result.stdout.splitlines():
        if line.startswith("ran "):
            _, run, worker = line.split()
            workers.setdefault(run, set()).add(worker)
    assert sum(len(w) for w in workers.values()) >= 6, result.stdout[-2000:]
    for run in ("laner_run", "continuous_run", "two_seed_sweep", "set_run"):
        assert len(workers[run]) == 1, (run, workers)
    assert len(workers["a"] | workers["b"] | workers["c"]) > 1, workers


ORDERED = '''
import pytest

@pytest.fixture(scope="module")
def ray_local():
    yield

def test_quick():
    pass

@pytest.mark.slow
def test_long():
    pass

def test_one(ray_local):
    pass

def test_two(ray_local):
    pass
'''


def test_slow_tests_come_first_and_a_modules_ray_tests_share_a_worker(tmp_path):
    (tmp_path / "test_ordered.py").write_text(ORDERED)
    result = pytest_with_the_plugin(tmp_path / "test_ordered.py", "-n", "2", "--dist", "loadgroup", "-v")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "PytestUnknownMarkWarning" not in result.stdout  # the plugin registers `slow`
    # -v under xdist: "[gw0] [ 25%] PASSED test_ordered.py::test_one"
    ran = {line.split("::")[-1].split()[0]: line.split()[0] for line in result.stdout.splitlines() if " PASSED " in line}
    assert set(ran) == {"test_quick", "test_long", "test_one", "test_two"}, result.stdout[-2000:]
    assert ran["test_one"] == ran["test_two"]

    collected = pytest_with_the_plugin(tmp_path / "test_ordered.py", "--collect-only", "-q")
    order = [line.split("::")[-1].strip() for line in collected.stdout.splitlines() if "::" in line]
    assert order == ["test_long", "test_quick", "test_one", "test_two"], collected.stdout
