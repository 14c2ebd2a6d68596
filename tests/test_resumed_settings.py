"""How a resumed run takes new settings: sampling settings (smarts_rl/run/resumed_settings.py) and
their record beside `.hydra/` (smarts_rl/run_dir/run_config.py), without Ray but for one
`train.py resume=` end to end.

The whole path after a kill (kill -9, then a resume on one env runner keeping one checkpoint) is
tests/test_driver_faults.py's sampling case."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smarts_rl.config import compose_config, settings
from smarts_rl.run.resumed_settings import sampling_settings, with_sampling_settings
from smarts_rl.upstream.tune import set_trial_limits
from tests.helpers import ONE_RUNNER, TINY

REPO = Path(__file__).resolve().parent.parent


def algorithm_config(*overrides: str):
    from smarts_rl.run.rllib_setup import build_algorithm_config

    return build_algorithm_config(settings(compose_config(list(overrides))), Path("unused"), 2)


def test_a_restored_trial_is_built_with_the_new_sampling_settings_and_asks_for_their_cpus():
    from smarts_rl.persisted import PG

    saved = algorithm_config("env_runners.num_env_runners=2").to_dict()  # as the trial's config holds it
    resumed = with_sampling_settings(PG, sampling_settings(algorithm_config("env_runners.num_env_runners=1")))
    assert resumed.__name__ == PG.__name__  # Tune matches the trainable by name
    assert len(PG.default_resource_request(saved).bundles) == 3  # the main process and two env runners
    bundles = resumed.default_resource_request(saved).bundles
    assert len(bundles) == 2 and sum(b["CPU"] for b in bundles) == 2


def test_set_trial_limits_changes_what_a_restored_trial_keeps_and_survives():
    from ray.tune import CheckpointConfig
    from ray.tune.experiment import Trial

    trial = Trial("PG", config={}, stub=True, max_failures=2,
                  checkpoint_config=CheckpointConfig(num_to_keep=3, checkpoint_frequency=5))
    set_trial_limits(trial, num_to_keep=1, max_failures=0)
    kept = trial.run_metadata.checkpoint_manager.checkpoint_config
    assert kept.num_to_keep == 1 and kept.checkpoint_frequency == 5
    assert trial.max_failures == 0
    trial.run_metadata.num_failures = 1
    assert not trial.should_recover()


# -- what a resume changes: recorded beside .hydra/, which stays as Hydra wrote it ----------


def started_run(tmp_path, *overrides: str) -> Path:
    """A run directory as train.py leaves it before any resume: its composed config in .hydra/."""
    from omegaconf import OmegaConf

    from smarts_rl.run_dir.layout import RUN_CONFIG

    run = tmp_path / "run"
    (run / RUN_CONFIG).parent.mkdir(parents=True)
    OmegaConf.save(compose_config(list(overrides)), run / RUN_CONFIG)
    return run


def resume_with(run: Path, *overrides: str):
    """What train.py resume=<run> <overrides> records before Tune starts."""
    from smarts_rl.run.resume import check_resume_overrides, remember_overrides, resumed_config

    cfg = resumed_config(run, check_resume_overrides([f"resume={run}", *overrides]))
    settings(cfg)
    return remember_overrides(run, cfg)


def test_a_resume_records_its_changes_and_leaves_the_started_config_as_it_was(tmp_path):
    import json

    from omegaconf import OmegaConf

    from smarts_rl.run_dir.layout import RESUMES_FILE, RUN_CONFIG
    from smarts_rl.run_dir.run_config import resumes, run_config
    from smarts_rl.run_dir.trained_run import run_config as evaluated_config

    run = started_run(tmp_path, "stop.training_iteration=30")
    started = (run / RUN_CONFIG).read_bytes()
    # Never resumed (or resumed before resumes were recorded): the config is .hydra/config.yaml.
    assert run_config(run) == OmegaConf.load(run / RUN_CONFIG) and resumes(run) == []

    first = resume_with(run, "stop.training_iteration=60", "env_runners.num_env_runners=1")
    assert first["changes"] == {"env_runners.num_env_runners": {"old": 2, "new": 1},
                                "stop.training_iteration": {"old": 30, "new": 60}}
    # The same value again, or nothing, changes nothing and adds no line; the next change appends.
    assert resume_with(run, "stop.training_iteration=60") is None and resume_with(run) is None
    second = resume_with(run, "stop.training_iteration=90", "checkpoint.num_to_keep=1", "ray.num_cpus=2")
    assert second["changes"] == {"checkpoint.num_to_keep": {"old": 3, "new": 1},
                                 "ray.num_cpus": {"old": None, "new": 2},
                                 "stop.training_iteration": {"old": 60, "new": 90}}

    assert (run / RUN_CONFIG).read_bytes() == started
    lines = (run / RESUMES_FILE).read_text().splitlines()
    assert [json.loads(line) for line in lines] == resumes(run) == [first, second]
    assert all(record["time"] for record in (first, second))
    for read in (run_config, evaluated_config):  # train, resume, evaluate and report read the same
        cfg = read(run)
        assert (cfg.stop.training_iteration, cfg.env_runners.num_env_runners, cfg.checkpoint.num_to_keep,
                cfg.ray.num_cpus) == (90, 1, 1, 2)
        assert cfg.algo == OmegaConf.load(run / RUN_CONFIG).algo


def test_the_pickled_stopper_and_callbacks_read_what_a_resume_recorded(tmp_path):
    """Tune pickles them with the experiment; those of runs made before resumes were recorded
    hold only `_config_file` (and the stopper `_limits`), and must read the recorded changes."""
    import pickle

    from ray.tune import CheckpointConfig
    from ray.tune.experiment import Trial

    from smarts_rl.run.console import TrialLines
    from smarts_rl.run.resumed_settings import RunSettings
    from smarts_rl.run.stopping import RunStopper
    from smarts_rl.run_dir.layout import RUN_CONFIG

    run = started_run(tmp_path, "stop.training_iteration=2")
    stopper, settings_callback = RunStopper(run / RUN_CONFIG), RunSettings(run / RUN_CONFIG)
    assert stopper("t", {"training_iteration": 2})
    old_stopper = RunStopper.__new__(RunStopper)
    old_stopper.__dict__.update({"_config_file": str(run / RUN_CONFIG), "_limits": None})
    old_settings = RunSettings.__new__(RunSettings)
    old_settings.__dict__.update({"_config_file": str(run / RUN_CONFIG)})
    pickled = pickle.dumps((stopper, settings_callback, TrialLines(run / RUN_CONFIG), old_stopper, old_settings))

    resume_with(run, "stop.training_iteration=3", "checkpoint.num_to_keep=1", "fault_tolerance.max_trial_failures=0")
    for restored in pickle.loads(pickled):
        if isinstance(restored, RunStopper):
            assert not restored("t", {"training_iteration": 2}) and restored("t", {"training_iteration": 3})
        elif isinstance(restored, RunSettings):
            trial = Trial("PG", config={}, stub=True, max_failures=2,
                          checkpoint_config=CheckpointConfig(num_to_keep=3, checkpoint_frequency=5))
            restored.on_trial_start(0, [trial], trial)
            assert trial.run_metadata.checkpoint_manager.checkpoint_config.num_to_keep == 1
            assert trial.max_failures == 0
        else:
            assert restored._stop_limits() == {"training_iteration": 3}


def test_a_write_cut_short_keeps_every_earlier_record(tmp_path):
    from smarts_rl.errors import UsageError
    from smarts_rl.run_dir.layout import RESUMES_FILE
    from smarts_rl.run_dir.run_config import resumes, run_config

    run = started_run(tmp_path)
    first = resume_with(run, "stop.training_iteration=40")
    # A kill mid-write leaves the half-written copy beside the file, never in it.
    (run / f".{RESUMES_FILE}.{os.getpid()}.tmp").write_text((run / RESUMES_FILE).read_text() + '{"time": "2026-')
    assert resumes(run) == [first] and run_config(run).stop.training_iteration == 40
    second = resume_with(run, "stop.training_iteration=50")
    assert resumes(run) == [first, second]
    # A line that is not a record (edited in) is named, not guessed at.
    with open(run / RESUMES_FILE, "a") as f:
        f.write('{"time": "2026-12-07", "changes": {"stop.training_iteration": 7}}\n')
    with pytest.raises(UsageError, match=f"{RESUMES_FILE}, line 3: not a record of a resume"):
        run_config(run)


def test_summary_json_lists_the_resumes(tmp_path):
    import json

    from smarts_rl.run_dir.summary import write_summary

    run = started_run(tmp_path)
    assert write_summary(run, "completed", {"algo": "pg"}, [])["resumes"] == []
    record = resume_with(run, "stop.training_iteration=40")
    write_summary(run, "completed", {"algo": "pg"}, [])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumes"] == [record] and summary["algo"] == "pg" and summary["best"] is None


def train(*args, cwd):
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
def test_train_py_resumes_record_their_changes_and_the_run_goes_on_with_them(tmp_path):
    from smarts_rl.run_dir.layout import RESUMES_FILE
    from smarts_rl.run_dir.trial_results import read_results

    run = tmp_path / "run"
    started = train("stop.training_iteration=1", *TINY, *ONE_RUNNER, f"hydra.run.dir={run}", cwd=tmp_path)
    assert started.returncode == 0, started.stderr[-3000:]
    hydra_files = {p.name: p.read_bytes() for p in (run / ".hydra").iterdir()}
    assert json.loads((run / "summary.json").read_text())["resumes"] == []
    assert not (run / RESUMES_FILE).exists()

    # Extended by two iterations: a stopper that still read stop.training_iteration=1 would stop
    # the trial after one, and the console would count the iterations against 1.
    extended = train(f"resume={run}", "stop.training_iteration=3", cwd=tmp_path)
    assert extended.returncode == 0, extended.stderr[-3000:]
    [first] = [json.loads(line) for line in (run / RESUMES_FILE).read_text().splitlines()]
    assert first["changes"] == {"stop.training_iteration": {"old": 1, "new": 3}}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumes"] == [first]
    [trial] = summary["trials"]
    assert trial["training_iteration"] == 3
    assert [line.split()[1:3] for line in extended.stdout.splitlines() if line.split()[:1] == ["0"]] == [
        ["2", "67%"], ["3", "100%"]]

    # Again, keeping one checkpoint (the callback reads that from the record as the trial starts),
    # and naming a setting at the value it has: that one is no change.
    again = train(f"resume={run}", "stop.training_iteration=4", "checkpoint.num_to_keep=1", *ONE_RUNNER, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    records = [json.loads(line) for line in (run / RESUMES_FILE).read_text().splitlines()]
    assert records[0] == first and records[1]["changes"] == {
        "checkpoint.num_to_keep": {"old": 3, "new": 1}, "stop.training_iteration": {"old": 3, "new": 4}}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumes"] == records
    [trial] = summary["trials"]
    assert [r["training_iteration"] for r in read_results(Path(trial["path"]))] == [1, 2, 3, 4]
    assert len(list(Path(trial["path"]).glob("checkpoint_*"))) == 1

    assert {p.name: p.read_bytes() for p in (run / ".hydra").iterdir()} == hydra_files
