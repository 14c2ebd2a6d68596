"""Finding a run's checkpoints on disk: best (summary.json), latest (newest), or a path."""

import json
import os

import pytest

from smarts_rl.errors import UsageError
from smarts_rl.upstream.rllib import MODULES_IN_CHECKPOINT
from smarts_rl.run_dir.trained_run import find_checkpoint, open_run


def fake_checkpoint(run, trial, number, mtime):
    checkpoint = run / "tune" / trial / f"checkpoint_{number:06d}"
    (checkpoint / MODULES_IN_CHECKPOINT).mkdir(parents=True)
    (checkpoint / "rllib_checkpoint.json").write_text("{}")
    os.utime(checkpoint / "rllib_checkpoint.json", (mtime, mtime))
    return checkpoint


@pytest.fixture
def run(tmp_path):
    """Two PBT-like trials: the best one (by summary.json) is not the one that saved last."""
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("seed: 0\n")
    fake_checkpoint(run, "trial_a", 1, mtime=1000)
    best = fake_checkpoint(run, "trial_a", 2, mtime=2000)
    fake_checkpoint(run, "trial_b", 2, mtime=3000)
    (run / "summary.json").write_text(json.dumps({"best": {"checkpoint": str(best)}}))
    return run


def test_best_is_summarys_and_latest_the_newest(run, tmp_path):
    assert find_checkpoint(run, "best", tmp_path) == run / "tune" / "trial_a" / "checkpoint_000002"
    assert find_checkpoint(run, "latest", tmp_path) == run / "tune" / "trial_b" / "checkpoint_000002"


def test_a_checkpoint_path_is_taken_relative_to_the_working_directory(run):
    assert find_checkpoint(run, "tune/trial_a/checkpoint_000001", cwd=run) == run / "tune" / "trial_a" / "checkpoint_000001"


def test_best_needs_a_summary_and_points_to_latest_without_one(run, tmp_path):
    (run / "summary.json").unlink()
    with pytest.raises(UsageError, match="use checkpoint=latest"):
        find_checkpoint(run, "best", tmp_path)


def test_half_written_checkpoints_do_not_count(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (run / "tune" / "trial_a" / "checkpoint_000001" / MODULES_IN_CHECKPOINT).mkdir(parents=True)  # no marker
    with pytest.raises(UsageError, match="has no checkpoint"):
        find_checkpoint(open_run(str(run), tmp_path), "latest", tmp_path)


# Checkpoints are pickles: `best` and `latest` never reach outside the named run.


def test_a_moved_run_uses_its_own_best_checkpoint_not_the_one_at_its_old_place(run, tmp_path):
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(run, moved)  # summary.json still names the checkpoint in `run`
    assert find_checkpoint(moved, "best", tmp_path) == moved / "tune" / "trial_a" / "checkpoint_000002"


def test_a_summary_naming_a_checkpoint_elsewhere_is_refused(run, tmp_path):
    elsewhere = fake_checkpoint(tmp_path / "other_run", "trial_x", 7, mtime=4000)
    (run / "summary.json").write_text(json.dumps({"best": {"checkpoint": str(elsewhere)}}))
    with pytest.raises(UsageError, match="names a best checkpoint outside the run .*pass checkpoint=<path>"):
        find_checkpoint(run, "best", tmp_path)
    assert find_checkpoint(run, str(elsewhere), tmp_path) == elsewhere  # named by the user: fine


def test_latest_ignores_a_checkpoint_symlinked_in_from_outside(run, tmp_path):
    elsewhere = fake_checkpoint(tmp_path / "other_run", "trial_x", 9, mtime=5000)
    (run / "tune" / "trial_c").mkdir()
    (run / "tune" / "trial_c" / "checkpoint_000009").symlink_to(elsewhere, target_is_directory=True)
    assert find_checkpoint(run, "latest", tmp_path) == run / "tune" / "trial_b" / "checkpoint_000002"
