"""What a run directory of `train.py` holds, and where: the one place that names its files.

    <run dir>/
      .hydra/config.yaml      the config the run started with, as Hydra wrote it (never rewritten)
      .hydra/overrides.yaml   the command line's overrides (report names groups by them)
      .hydra/hydra.yaml       Hydra's own settings (the directory the run was started in)
      train.log               tracebacks of what went wrong
      tune/                   the Tune experiment: tuner.pkl, experiment_state-<time>.json and
        <trial>/              one folder per trial: result.json, progress.csv, TensorBoard events,
          checkpoint_<n>/     RLlib checkpoints
      resumes.jsonl           each resume's changes of that config, one JSON line each (the run's
                              config now: smarts_rl/run_dir/run_config.py)
      exploits.jsonl          PBT's exploits, one JSON line each
      summary.json            what the run did (written at its end, also when interrupted)
      curves.png              its learning curves
      eval/<time>/            one folder per `evaluate`: eval.json, rollout.gif, envision_replay.jsonl
      pickles_migrated.json   when the pickles were rewritten to the promised names (smarts_rl/migrate.py)

Inside `tune/`, Tune's own files and folders are found as Tune lays them out
(smarts_rl/upstream/tune_files.py), and what a checkpoint holds as RLlib does
(smarts_rl/upstream/rllib.py).

Paths the user types are made absolute here too (`user_path`), against the directory the
command was started in, before anything (Hydra, Ray) changes it or hands it on.
"""

from __future__ import annotations

from pathlib import Path

from smarts_rl.errors import UsageError
from smarts_rl.upstream import tune_files
from smarts_rl.upstream.rllib import CHECKPOINT_MARKER

RUN_CONFIG = Path(".hydra") / "config.yaml"
OVERRIDES_FILE = Path(".hydra") / "overrides.yaml"
HYDRA_FILE = Path(".hydra") / "hydra.yaml"
RESUMES_FILE = "resumes.jsonl"
LOG_FILE = "train.log"
EXPERIMENT_DIR = "tune"
RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.csv"
EXPLOITS_FILE = "exploits.jsonl"
SUMMARY_FILE = "summary.json"
CURVES_FILE = "curves.png"
PICKLES_MIGRATED = "pickles_migrated.json"
EVAL_DIR = "eval"
EVAL_FILE = "eval.json"
GIF_FILE = "rollout.gif"
REPLAY_FILE = "envision_replay.jsonl"  # per scenario of a set: envision_replay_<name>.jsonl
ENVISION_RECORDS = "envision"  # SMARTS's recordings while evaluate runs (then gathered into the replay)


def user_path(path: str | Path, cwd: Path) -> Path:
    """A path as the user typed it (`~` allowed), absolute against `cwd`, symlinks resolved."""
    path = Path(path).expanduser()
    return (path if path.is_absolute() else Path(cwd) / path).resolve()


def user_directory(path: str | Path, cwd: Path, key: str | None, hint: str | None = None) -> Path:
    """`user_path`, refused in one line unless it is a directory: "<key>=<path>: no such directory (<hint>)"."""
    directory = user_path(path, cwd)
    if not directory.is_dir():
        given = f"{key}={path}" if key else str(path)
        raise UsageError(f"{given}: no such directory ({hint or directory})")
    return directory


def holds_config(directory: Path) -> bool:
    """Whether `directory` has a run's config: a run directory of train.py."""
    return (Path(directory) / RUN_CONFIG).is_file()


def run_dir_of(config_file: str | Path) -> Path:
    """The run directory whose RUN_CONFIG `config_file` is."""
    return Path(config_file).parents[len(RUN_CONFIG.parts) - 1]


def experiment_dir(run_dir: Path) -> Path:
    return Path(run_dir) / EXPERIMENT_DIR


def tuner_file(run_dir: Path) -> Path:
    return tune_files.tuner_file(experiment_dir(run_dir))


def latest_experiment_state(run_dir: Path) -> Path | None:
    """The experiment state Tune restores from (one per session)."""
    return tune_files.latest_experiment_state(experiment_dir(run_dir))


def result_files(run_dir: Path) -> list[Path]:
    """Each trial's result.json, by trial folder name."""
    return sorted(experiment_dir(run_dir).glob(f"*/{RESULT_FILE}"))


def progress_files(run_dir: Path) -> list[Path]:
    """Each trial's progress.csv, by trial folder name."""
    return sorted(experiment_dir(run_dir).glob(f"*/{PROGRESS_FILE}"))


def checkpoint_markers(run_dir: Path) -> list[Path]:
    """The file RLlib writes into each algorithm checkpoint of the run's trials."""
    markers = (checkpoint / CHECKPOINT_MARKER for checkpoint in tune_files.trial_checkpoint_dirs(experiment_dir(run_dir)))
    return [marker for marker in markers if marker.is_file()]


def eval_root(run_dir: Path) -> Path:
    return Path(run_dir) / EVAL_DIR


def eval_reports(run_dir: Path) -> list[Path]:
    """Each evaluation's eval.json, oldest first (the folders are named by time)."""
    return sorted(eval_root(run_dir).glob(f"*/{EVAL_FILE}"))


def replay_file(eval_dir: Path, scenario: str, one_of_many: bool) -> Path:
    return Path(eval_dir) / (f"envision_replay_{scenario}.jsonl" if one_of_many else REPLAY_FILE)
