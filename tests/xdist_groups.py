"""One pytest-xdist worker per shared training run, so that each is trained once.

A session fixture is made once per worker that needs it. `make test` runs `--dist loadgroup`: every
test that uses one of `SHARED_RUNS` is scheduled on the same worker as the other tests of its group.
pytest-xdist 3.8.0's own loadgroup cannot do that under pytest 9: it renames each grouped test's
`item._nodeid`, which pytest 9 no longer reads (`Node.nodeid` is `str(Node._id)`), so its groups are
spread like any test. Here each worker writes the group of every test it collected to a file, and the
controller's scheduler (pytest-xdist's `LoadScopeScheduling`, from its `pytest_xdist_make_scheduler`
hook) reads them: a group is one scope, any other test a scope of its own.

The scheduler hands out the biggest scopes first (its `--loadscope-reorder`, on by default), then the
single tests in collection order. Collection puts the tests marked `slow` first, so that the last
minutes of a suite are not one long test running alone.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

GROUPS_DIR = "SMARTS_RL_TEST_GROUPS_DIR"  # set by the controller, inherited by its workers
# (fixture, group): the first one a test uses names its group.
SHARED_RUNS = (("two_seed_sweep", "two_seed_sweep"), ("continuous_run", "continuous_run"),
               ("laner_run", "laner_run"), ("laner_eval", "laner_run"), ("set_run", "set_run"))
# Module-scoped fixtures that start Ray: a module's tests that use one share a worker, so that
# Ray starts once per module, not once per worker (and again each time a worker comes back to it).
PER_MODULE = ("ray_local",)
SLOW = "slow: takes a minute or more; make test starts these first"


def group_of(item):
    params = item.callspec.params if hasattr(item, "callspec") else {}
    # A test may take its run by name, as a parameter (request.getfixturevalue).
    used = set(item.fixturenames) | {value for value in params.values() if isinstance(value, str)}
    shared = next((group for fixture, group in SHARED_RUNS if fixture in used), None)
    module = item.nodeid.split("::")[0]
    per_module = next((f"{module}::{fixture}" for fixture in PER_MODULE if fixture in used), None)
    return shared or per_module


def pytest_configure(config):
    config.addinivalue_line("markers", SLOW)
    if not hasattr(config, "workerinput") and config.getoption("dist", "no") == "loadgroup":
        os.environ[GROUPS_DIR] = tempfile.mkdtemp(prefix="smarts-rl-test-groups-")


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput") and os.environ.get(GROUPS_DIR):
        shutil.rmtree(os.environ.pop(GROUPS_DIR), ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: else collection order
    folder = os.environ.get(GROUPS_DIR)
    if not (folder and hasattr(config, "workerinput")):
        return
    groups = {item.nodeid: group for item in items if (group := group_of(item))}
    path = Path(folder) / f"{config.workerinput['workerid']}.json"
    path.with_suffix(".tmp").write_text(json.dumps(groups))
    path.with_suffix(".tmp").replace(path)  # whole before the controller hears the collection is done


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist", "no") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):
        groups = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # first asked once every worker has collected
                self.groups = {}
                for path in Path(os.environ[GROUPS_DIR]).glob("*.json"):
                    self.groups.update(json.loads(path.read_text()))
            return self.groups.get(nodeid, nodeid)

    return SharedRunScheduling(config, log)
