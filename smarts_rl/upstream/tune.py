"""What smarts-rl takes from Ray Tune's internals (Ray 2.60.0): private arguments and attributes,
and the PBT scheduler's undocumented methods. Imported only where Tune already is."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import warnings

from ray.tune.experiment import Trial
from ray.tune.logger import TBXLoggerCallback
from ray.tune.schedulers import PopulationBasedTraining

# Tune 2.60.0's hint, warned at every PBT run with `reuse_actors=False` (ray/tune/tune.py, `run`).
PBT_ACTOR_REUSE_HINT = "Consider boosting PBT performance"


def use_classic_console_output() -> None:
    """Tune's older console output, which `verbose=0` silences entirely (our `TrialLines`
    callback prints instead). Ray 2.60.0 switches its output engine on the environment variable
    `RAY_AIR_NEW_OUTPUT` (read in ray/tune/experimental/output.py, `get_air_verbosity`), documented
    only in `RunConfig.verbose`'s docstring."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


# Tune 2.60.0's warnings when SIGINT stops `fit()` (ray/tune/tune.py, logger "ray.tune.tune"):
# the second advises `Tuner.restore`, where train.py says how to continue (`resume=<dir>`).
TUNE_LOGGER = "ray.tune.tune"
TUNE_INTERRUPT_WARNINGS = ("Stop signal received", "Experiment has been interrupted")


class _NoInterruptWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(TUNE_INTERRUPT_WARNINGS)


def quiet_interrupt_warnings() -> None:
    """Drops Tune's own console lines about an interrupted `fit()` (matched by the text of Tune
    2.60.0's warnings, `TUNE_INTERRUPT_WARNINGS`): train.py prints its own."""
    logger = logging.getLogger(TUNE_LOGGER)
    if not any(isinstance(f, _NoInterruptWarnings) for f in logger.filters):
        logger.addFilter(_NoInterruptWarnings())


def ignore_pbt_actor_reuse_hint() -> None:
    """Tune suggests actor reuse for PBT; we restart trials on purpose, so that an exploited
    trial is rebuilt from its new config (including train_batch_size). Matched by the text of
    Tune 2.60.0's warning (`PBT_ACTOR_REUSE_HINT`)."""
    warnings.filterwarnings("ignore", message=PBT_ACTOR_REUSE_HINT)


def restore_every_trial(path: str, trainable):
    """`Tuner.restore` resuming every trial, the finished and errored ones too (a resume may extend
    `stop`; the stopper re-reads it). Ray 2.60.0's public flags cannot resume finished trials: only
    the private `_resume_config` argument can (its `ResumeConfig` stayed private since
    ray-project/ray#26826)."""
    from ray import tune
    from ray.tune import ResumeConfig

    everything = ResumeConfig.ResumeType.RESUME
    return tune.Tuner.restore(
        path, trainable=trainable,
        _resume_config=ResumeConfig(finished=everything, unfinished=everything, errored=everything),
    )


def set_trial_limits(trial: Trial, num_to_keep: int, max_failures: int) -> None:
    """A restored trial keeps the `CheckpointConfig` of the run that created it in its checkpoint
    manager, and its own `max_failures`; Ray 2.60.0 has no public setter for the first. Sets the
    private `_checkpoint_config` of `trial.run_metadata.checkpoint_manager`
    (ray/train/_internal/checkpoint_manager.py, `_CheckpointManager`)."""
    manager = trial.run_metadata.checkpoint_manager
    manager._checkpoint_config = dataclasses.replace(manager.checkpoint_config, num_to_keep=num_to_keep)
    trial.max_failures = max_failures


class PBTWithHooks(PopulationBasedTraining):
    """Tune 2.60.0's PopulationBasedTraining (ray/tune/schedulers/pbt.py) with public hooks on its
    private exploit steps, and synchronous PBT that cannot stall after a resume.

    Subclasses implement `exploit_config(trial, new_config)` (the config a trial takes on when it
    exploits, `_get_new_config`) and `exploited(trial, trial_to_clone, new_config)` (after the
    exploit, `_log_config_on_step`). Only the subclass is named by Tune's pickles."""

    def exploit_config(self, trial: Trial, new_config: dict) -> dict:
        return new_config

    def exploited(self, trial: Trial, trial_to_clone: Trial, new_config: dict) -> None:
        pass

    def _get_new_config(self, trial, trial_to_clone):
        new_config, operations = super()._get_new_config(trial, trial_to_clone)
        return self.exploit_config(trial, new_config), operations

    def _log_config_on_step(self, trial_state, new_state, trial, trial_to_clone, new_config):
        super()._log_config_on_step(trial_state, new_state, trial, trial_to_clone, new_config)
        self.exploited(trial, trial_to_clone, new_config)

    def choose_trial_to_run(self, tune_controller):
        # Synchronous PBT runs only trials behind `_next_perturbation_sync`. After a resume the
        # trials can restart from different iterations (one from its checkpoint, one from
        # scratch); the first exploit then moves the sync point to the most advanced trial's
        # iteration and the exploited trial to that same iteration, so no trial is behind it
        # and Tune waits forever with every trial paused (a stall of the kind of
        # ray-project/ray#23424, which ray-project/ray#23472 fixed for `burn_in_period` only).
        # Every trial waiting means all have reached the sync point: move it on by one interval.
        trial = super().choose_trial_to_run(tune_controller)
        live = tune_controller.get_live_trials()
        if trial is None and self._synch and live and all(t.status in (Trial.PENDING, Trial.PAUSED) for t in live):
            times = [self._trial_state[t].last_train_time for t in live if t in self._trial_state]
            if times:
                self._next_perturbation_sync = min(times) + self._perturbation_interval
                trial = super().choose_trial_to_run(tune_controller)
        return trial


def trial_statuses(result_grid) -> dict[str, str]:
    """Each trial's Tune status (`TERMINATED`, `ERROR`, `PAUSED`...) by trial id. A `Result` does
    not carry it: Ray 2.60.0's `ResultGrid` keeps its trials in the private `_experiment_analysis`
    (ray/tune/result_grid.py, as its own `num_terminated` reads them)."""
    return {trial.trial_id: trial.status for trial in result_grid._experiment_analysis.trials}


def as_logged(result: dict) -> dict:
    """The result as Tune's JSON logger writes it into result.json (numpy values as plain numbers
    and lists, anything else it cannot encode as its text): Tune 2.60.0's
    `ray.air._internal.json.SafeFallbackEncoder`, which `ray.tune.logger.json` uses."""
    import json

    from ray.air._internal.json import SafeFallbackEncoder

    return json.loads(json.dumps(result, cls=SafeFallbackEncoder))


# Tune 2.60.0 builds one instance of each class named here (comma-separated `module.Class`) and
# adds it to the run's callbacks in `ray.tune.tune.run` (ray/tune/utils/callback.py,
# `_initialize_env_callbacks`): a restored experiment keeps the callbacks pickled when it started.
TUNE_CALLBACKS_VARIABLE = "RAY_TUNE_CALLBACKS"


@contextlib.contextmanager
def callbacks_by_name(names: list[str]):
    """While the block runs, Tune adds an instance of each class `names` names to a run it starts
    or restores, with no arguments."""
    before = os.environ.get(TUNE_CALLBACKS_VARIABLE)
    os.environ[TUNE_CALLBACKS_VARIABLE] = ",".join(filter(None, [before, *names]))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TUNE_CALLBACKS_VARIABLE, None)
        else:
            os.environ[TUNE_CALLBACKS_VARIABLE] = before


class TBXLoggerFromResumePoint(TBXLoggerCallback):
    """Tune's TensorBoard logger, whose writer of each trial session starts with tensorboardX's
    `purge_step` at the session's first step: TensorBoard then hides the earlier sessions' events
    from that step on (an iteration trained again after a resume shows once, as the resumed run
    trained it). Tune 2.60.0's `TBXLoggerCallback` keeps its writers in the private
    `_trial_writer` and `_trial_result` and builds them with `_summary_writer_cls` in
    `log_trial_start`, before the first result says the step."""

    def log_trial_start(self, trial: Trial):
        if trial in self._trial_writer:
            self._trial_writer.pop(trial).close()
        trial.init_local_path()
        self._trial_result[trial] = {}

    def log_trial_result(self, iteration: int, trial: Trial, result: dict):
        if trial not in self._trial_writer:
            from ray.tune.result import TIMESTEPS_TOTAL, TRAINING_ITERATION

            step = result.get(TIMESTEPS_TOTAL) or result[TRAINING_ITERATION]
            trial.init_local_path()
            self._trial_result.setdefault(trial, {})
            self._trial_writer[trial] = self._summary_writer_cls(trial.local_path, flush_secs=30, purge_step=step)
        super().log_trial_result(iteration, trial, result)


def sync_experiment_files_atomically() -> None:
    """Tune stages the experiment's files on the driver (its experiment state, searcher state,
    each trial's result.json, progress.csv and events) and copies them into the run directory
    with `pyarrow.fs.copy_files`, which writes each file in place: a `kill -9` during the copy left
    a torn file. From now on, in this process, a copy into a local run directory writes each file
    beside its destination and renames it into place. Ray 2.60.0's copies go through
    `ray.train._internal.storage._pyarrow_fs_copy_files`, looked up at each call by
    `_upload_to_fs_path` (the driver's syncer) and `_download_from_fs_path`."""
    from ray.train._internal import storage

    if getattr(storage._pyarrow_fs_copy_files, "atomic", False):
        return
    storage._pyarrow_fs_copy_files = _atomic_local_copy(storage._pyarrow_fs_copy_files)


def _atomic_local_copy(copy_files):
    import shutil

    import pyarrow.fs

    def copy(source, destination, source_filesystem=None, destination_filesystem=None, **kwargs):
        local = source_filesystem is None and isinstance(destination_filesystem, pyarrow.fs.LocalFileSystem)
        if not (local and os.path.exists(source)):
            return copy_files(source, destination, source_filesystem=source_filesystem,
                              destination_filesystem=destination_filesystem, **kwargs)
        if os.path.isfile(source):
            pairs = [(source, destination)]
        else:
            pairs = [(os.path.join(root, name), os.path.join(destination, os.path.relpath(root, source), name))
                     for root, _, names in os.walk(source) for name in names]
        for src, dst in pairs:
            os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
            tmp = f"{dst}.copying-{os.getpid()}"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)

    copy.atomic = True
    return copy


# Tune 2.60.0's JSON encoder of trial metadata logs, once per key, that it falls back to cloudpickle
# (ray/tune/utils/serialization.py, `TuneFunctionEncoder.default`), keyed by the object's text.
ENCODER_LOG_KEY = "tune_func_encode:"


def stop_encoder_log_keys_growing() -> None:
    """Key the encoder's `log_once` by kind, not by each object's text.

    Why: Tune encodes every trial's run metadata to JSON after each result, and that metadata holds a
    `deque` of each metric's last values, which JSON cannot encode: each deque's text, new at every
    iteration, became a key of `ray.util.debug`'s module set, kept forever. That was the driver's
    memory growth over long runs (~0.12 MB per iteration with RLlib's ~125 metrics). The key only
    gates a debug-level line ("Unable to encode. Falling back to cloudpickle."), now logged once."""
    from ray.tune.utils import serialization

    if getattr(serialization.log_once, "keyed_by_kind", False):
        return
    log_once = serialization.log_once

    def log_once_per_kind(key: str) -> bool:
        return log_once(ENCODER_LOG_KEY if key.startswith(ENCODER_LOG_KEY) else key)

    log_once_per_kind.keyed_by_kind = True
    serialization.log_once = log_once_per_kind
