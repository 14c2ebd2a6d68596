"""`smarts_rl.train(cfg, run_dir)`: the Python API under `train.py`."""

import json

import pytest
from omegaconf import OmegaConf

from smarts_rl.config import compose_config, settings
from smarts_rl.errors import UsageError
from tests.helpers import TINY


@pytest.mark.slow
def test_train_from_python_returns_the_summary_and_leaves_a_run_train_py_can_resume(tmp_path):
    import smarts_rl

    cfg = settings(compose_config(["stop.training_iteration=1", *TINY, "env_runners.num_env_runners=0"]))
    summary = smarts_rl.train(cfg, tmp_path / "run")
    assert summary["status"] == "completed" and summary["algo"] == "pg"
    assert summary == json.loads((tmp_path / "run" / "summary.json").read_text())
    saved = OmegaConf.load(tmp_path / "run" / ".hydra" / "config.yaml")
    assert saved.algo._target_ == "smarts_rl.algorithms.pg.Settings" and saved.stop.training_iteration == 1
    assert settings(saved) == cfg  # what resume, evaluate and init_from read back

    with pytest.raises(UsageError, match="already holds a run"):
        smarts_rl.train(cfg, tmp_path / "run")


def test_train_from_python_refuses_what_train_py_refuses_before_anything_starts(tmp_path):
    import smarts_rl

    cfg = settings(compose_config(["scheduler=pbt", "+scheduler.hyperparam_mutations.lrr=[1]"]))
    with pytest.raises(ValueError, match="scheduler.hyperparam_mutations.lrr is not a field"):
        smarts_rl.train(cfg, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []
