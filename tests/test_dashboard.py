"""The Ray dashboard: off by default; with `ray.dashboard=true`, reachable on 127.0.0.1 only.

The dashboard needs `ray[default]` (the test extra installs it); without it `ray.dashboard=true`
is refused in one line.
"""

import subprocess
import sys
import time

import psutil
import pytest

from tests.helpers import TINY_TRAINING
from tests.test_train import REPO

# Ray's dashboard takes 8265, or the next free port of the 50 after it.
DASHBOARD_PORTS = range(8265, 8265 + 51)
QUICK = [*TINY_TRAINING, "env_runners.num_env_runners=0"]


def dashboard_installed() -> bool:
    from ray._private.utils import get_dashboard_dependency_error

    return get_dashboard_dependency_error() is None


def listening_while_training(run_dir, *overrides) -> list[tuple[str, int, str]]:
    """Train with `overrides`; every (address, port, command) a process of the run listens on."""
    process = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), *QUICK, *overrides, f"hydra.run.dir={run_dir}"],
        cwd=run_dir.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seen = set()
    while process.poll() is None:
        try:
            children = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            break
        for child in children:
            try:
                for c in child.net_connections(kind="inet"):
                    if c.status == psutil.CONN_LISTEN:
                        seen.add((c.laddr.ip, c.laddr.port, " ".join(child.cmdline())[:120]))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        time.sleep(0.5)
    _, stderr = process.communicate()
    assert process.returncode == 0, stderr[-2000:]
    return sorted(seen)


def test_the_dashboard_is_off_by_default(tmp_path):
    listening = listening_while_training(tmp_path / "run")
    assert listening, "Ray's own processes listen on some ports"
    assert [entry for entry in listening if entry[1] in DASHBOARD_PORTS] == []


@pytest.mark.slow
def test_the_dashboard_listens_on_127_0_0_1_only(tmp_path):
    assert dashboard_installed(), "the test extra installs ray[default] (pip install -e '.[test]'): without it this checks nothing"
    listening = listening_while_training(tmp_path / "run", "ray.dashboard=true")
    dashboard = [entry for entry in listening if entry[1] in DASHBOARD_PORTS and "dashboard" in entry[2]]
    assert dashboard, listening
    # Bound to the loopback address only: not reachable from other machines.
    assert {address for address, _, _ in dashboard} == {"127.0.0.1"}, dashboard


# Run as train.py is, but with the dashboard's packages unimportable (None in sys.modules makes
# `import` raise ImportError), as in an install without ray[default].
WITHOUT_DASHBOARD_PACKAGES = (
    "import sys; sys.modules['ray.dashboard.optional_deps'] = None; sys.argv[0] = 'train.py'; "
    "from smarts_rl import cli; sys.exit(cli.main(sys.argv[1:]))"
)


def test_without_the_dashboard_packages_ray_dashboard_true_is_refused_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_DASHBOARD_PACKAGES, "ray.dashboard=true", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("train.py: error: ray.dashboard=true needs Ray's dashboard packages")
    assert "pip install 'ray[default]==2.60.0'" in line
    assert not (tmp_path / "run").exists()
