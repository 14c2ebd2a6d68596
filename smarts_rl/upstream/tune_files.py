"""Where Tune (Ray 2.60.0) keeps an experiment's own files, read without loading Tune: its
internal layout, which `resume`, `evaluate` and warm start find their way by. (A trial's
`result.json` and `progress.csv` are Tune's documented output, `ray.tune.result`.)"""

from __future__ import annotations

from pathlib import Path

# The Tuner's pickled state in the experiment folder (`_TUNER_PKL`, ray/tune/impl/tuner_internal.py):
# `Tuner.restore` needs it.
TUNER_FILE = "tuner.pkl"
# The experiment's state, one file per session (`TuneController.CKPT_FILE_TMPL`,
# ray/tune/execution/tune_controller.py).
EXPERIMENT_STATES = "experiment_state-*.json"
# A trial's checkpoint folders in the trial's folder, `checkpoint_000003`
# (`StorageContext._make_checkpoint_dir_name`, ray/train/_internal/storage.py).
TRIAL_CHECKPOINTS = "checkpoint_*"


def tuner_file(experiment_dir: Path) -> Path:
    """The file whose presence makes a folder an experiment `Tuner.restore` can resume."""
    return Path(experiment_dir) / TUNER_FILE


def latest_experiment_state(experiment_dir: Path) -> Path | None:
    """The experiment state Tune restores from: the newest by name (their names end in the time)."""
    return max(Path(experiment_dir).glob(EXPERIMENT_STATES), default=None)


def trial_checkpoint_dirs(experiment_dir: Path) -> list[Path]:
    """Every checkpoint folder of every trial of the experiment (trial folders are directly inside it)."""
    return sorted(Path(experiment_dir).glob(f"*/{TRIAL_CHECKPOINTS}"))


def last_saved_result_time(experiment_state: Path) -> float:
    """The time of the newest trial result an experiment state knows (-inf: none). Each entry of its
    `trial_data` is a trial's JSON state and its run metadata, whose `last_result_time` Tune sets
    as a result arrives (`_TrainingRunMetadata`, ray/tune/experiment/trial.py)."""
    import json

    state = json.loads(Path(experiment_state).read_text())
    return max(
        (json.loads(meta).get("last_result_time", float("-inf")) for _, meta in state["trial_data"]),
        default=float("-inf"),
    )
