"""One pytest-xdist worker per shared training run, so that each is trained once.

A session fixture is made once per worker that needs it. `make test` runs `--dist loadgroup`: every
test that uses one of `SHARED_RUNS` is scheduled on the same worker as the other tests of its group.
pytest-xdist 3.8.0's own loadgroup cannot do that under pytest 9: it renames each grouped test's
`item._nodeid`, which pytest 9 no longer reads (`Node.nodeid` is `str(Node._id)`), so its groups are
spread like any test. Here each worker writes the group of every test it collected to a file, and the
controller's scheduler (pytest-xdist's `LoadScopeScheduling`, from its `pytest_xdist_make_scheduler`
hook) reads them: a group is one scope, any other test a scope of its own.
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
               ("laner_run", "laner_run"), ("laner_eval", "laner_run"))


def group_of(item):
    params = item.callspec.params if hasattr(item, "callspec") else {}
    # A test may take its run by name, as a parameter (request.getfixturevalue).
    used = set(item.fixturenames) | {value for value in params.values() if isinstance(value, str)}
    return next((group for fixture, group in SHARED_RUNS if fixture in used), None)


def pytest_configure(config):
    if not hasattr(config, "workerinput") and config.getoption("dist", "no") == "loadgroup":
        os.environ[GROUPS_DIR] = tempfile.mkdtemp(prefix="smarts-rl-test-groups-")


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput") and os.environ.get(GROUPS_DIR):
        shutil.rmtree(os.environ.pop(GROUPS_DIR), ignore_errors=True)


def pytest_collection_modifyitems(config, items):
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
