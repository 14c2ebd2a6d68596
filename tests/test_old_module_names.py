"""Run directories from before the package layout of December 2026 still load: their pickles
name our classes and functions by the old flat modules (smarts_rl/old_module_names.py)."""

import importlib
import pickle
from pathlib import Path

import pytest

import smarts_rl

from smarts_rl.old_module_names import MOVED
from smarts_rl.run.job import trial_dirname


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_name_imports_its_new_module(old):
    assert importlib.import_module(old) is importlib.import_module(MOVED[old])


def test_a_pickle_naming_an_old_module_loads():
    # Protocol 0 writes the module name as text, so it can be renamed in place.
    old_pickle = pickle.dumps(trial_dirname, protocol=0).replace(b"smarts_rl.run.job", b"smarts_rl.training")
    assert b"smarts_rl.training\n" in old_pickle
    assert pickle.loads(old_pickle) is trial_dirname


def test_no_old_name_is_also_a_module_of_today():
    # A real module of the same name would win over the alias and break old pickles.
    package = Path(smarts_rl.__file__).parent
    for old in MOVED:
        leaf = old.removeprefix("smarts_rl.").replace(".", "/")
        assert not (package / f"{leaf}.py").exists() and not (package / leaf).exists(), old
