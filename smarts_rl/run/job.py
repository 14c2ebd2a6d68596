"""One training job: settings → scenario build → Ray → Tune (fresh or resumed) → summary.

Everything a job writes lives in its run directory (what goes where: smarts_rl/run_dir/layout.py).
"""

from __future__ import annotations

import logging
import os
import signal
import traceback
from contextlib import contextmanager
from pathlib import Path

from smarts_rl.config import Config, algo_keys, check_mutations
from smarts_rl.run_dir.curves import write_run_curves
from smarts_rl.run_dir.progress_table import repair_run
from smarts_rl.errors import UsageError, one_line
from smarts_rl.migrate import migrate
from smarts_rl.run_dir.layout import (
    LOG_FILE, RUN_CONFIG, experiment_dir, latest_experiment_state,
)
from smarts_rl.run.resumed_settings import sampling_settings, with_sampling_settings
from smarts_rl.scenarios.sets import scenario_sources
from smarts_rl.run.stopping import reached, stop_limits
from smarts_rl.run.sigterm import interrupts_the_run
from smarts_rl.run_dir.summary import trial_records, write_summary
from smarts_rl.run_dir.trial_results import RETURN_COLUMN
from smarts_rl.run.warm_start import WarmStart, on_algorithm_init, recorded_checkpoint

log = logging.getLogger(__name__)
# On a set of scenarios too: the mean over all the set's episodes (PBT and "best" compare it).
METRIC = RETURN_COLUMN
MODE = "max"


@contextmanager
def ray_session(cfg: Config, scenario_dirs: list[Path]):
    """A Ray instance for this job only (multirun jobs share one process); yields the CPUs the
    run may use. On a cluster the job ships our package and the built scenarios to every node."""
    import ray

    from smarts_rl.run.cluster import runtime_env
    from smarts_rl.upstream.ray import quiet_auth_token_notice, start_ray_processes_in_their_own_process_group
    from smarts_rl.upstream.tune import stop_encoder_log_keys_growing, use_classic_console_output

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet_auth_token_notice()
    use_classic_console_output()
    stop_encoder_log_keys_growing()  # the driver's memory stays flat over long runs
    # Tune stages trial results and its experiment state outside the run directory and
    # copies them in every >= 10 s by default. After a `kill -9` the run directory must
    # already know the latest checkpoints and results, so copy every couple of seconds.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    on_sigterm = signal.getsignal(signal.SIGTERM)
    if cfg.ray.address:
        ray.init(
            address=cfg.ray.address,
            runtime_env=runtime_env(scenario_dirs),
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    else:
        # A process group's SIGTERM (a time limit) then reaches only this driver, which
        # stops the run as Ctrl-C does; Ray's processes end with ray.shutdown() below.
        start_ray_processes_in_their_own_process_group()
        ray.init(
            address="local",
            num_cpus=cfg.ray.num_cpus or os.cpu_count(),
            include_dashboard=cfg.ray.dashboard,
            dashboard_host="127.0.0.1",  # never on other interfaces: the dashboard runs code
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    if interrupts_the_run(on_sigterm):
        # ray.init installs its own SIGTERM handlers, which end the process at once (no summary,
        # and Ray's native stack on the console): SIGTERM interrupts the run as before.
        signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield ray.cluster_resources().get("CPU", 1.0)
    finally:
        ray.shutdown()


def header(cfg: Config, init_from: str | None = None) -> dict:
    return {
        "algo": cfg.algo.name,
        "scheduler": cfg.scheduler.name,
        "scenario": cfg.scenario.name if cfg.scenario.path is None else cfg.scenario.path,
        "scenarios": _scenario_names(cfg),
        "agent": cfg.agent.name,
        "agents": cfg.agents.count,
        "seed": cfg.seed,
        **({"init_from": init_from} if init_from else {}),
    }


def build_tuner(
    cfg: Config, run_dir: Path, scenario_dirs: dict[str, Path], cpus: float, resume: bool, largest_node_cpus: float | None = None,
    warm: WarmStart | None = None,
):
    from ray import tune

    # Tune pickles what it is handed here: each by its promised name.
    from smarts_rl import persisted
    from smarts_rl.run.rllib_setup import build_algorithm_config, register
    from smarts_rl.upstream.rllib import quiet_config_warnings
    from smarts_rl.upstream.tune import ignore_pbt_actor_reuse_hint, quiet_interrupt_warnings, restore_every_trial

    ignore_pbt_actor_reuse_hint()
    quiet_interrupt_warnings()
    quiet_config_warnings()
    scheduler = cfg.scheduler
    # The CPUs are shared by the trials that run at once.
    algo_config = build_algorithm_config(cfg, scenario_dirs, cpus / scheduler.concurrent_trials(), largest_node_cpus)
    register(cfg.algo, algo_config)
    if warm:
        algo_config.callbacks(on_algorithm_init=on_algorithm_init(warm))
    trainable = algo_config.algo_class
    if resume:
        # The run's own config, with the sampling settings this resume may have changed.
        trainable = with_sampling_settings(trainable, sampling_settings(algo_config))
        tune.register_trainable(trainable.__name__, trainable)
        # Finished trials too: a resume may extend `stop`; the stopper re-reads it.
        return restore_every_trial(str(experiment_dir(run_dir)), trainable)
    param_space = {**algo_config.to_dict(), **scheduler.param_space(cfg.seed)}
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode=MODE,
            num_samples=scheduler.num_samples(),  # a grid search in the param space multiplies it
            scheduler=scheduler.tune_scheduler(METRIC, MODE, run_dir),
            search_alg=scheduler.search_algorithm(METRIC, MODE),
            max_concurrent_trials=scheduler.concurrent_trials(),
            reuse_actors=False,
            trial_dirname_creator=persisted.trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=experiment_dir(run_dir).name,
            storage_path=str(run_dir),
            stop=persisted.RunStopper(run_dir / RUN_CONFIG),
            checkpoint_config=tune.CheckpointConfig(
                checkpoint_frequency=scheduler.checkpoint_frequency(cfg.checkpoint.frequency),
                num_to_keep=cfg.checkpoint.num_to_keep,
                checkpoint_at_end=True,
            ),
            # A trial that fails for good stalls a synchronous PBT: the others wait for it forever.
            failure_config=tune.FailureConfig(max_failures=cfg.fault_tolerance.max_trial_failures),
            callbacks=[persisted.TrialLines(run_dir / RUN_CONFIG), persisted.RunSettings(run_dir / RUN_CONFIG),
                       *user_callbacks(cfg, run_dir)],
            verbose=0,
        ),
    )


# Named, not handed over: Tune builds them at every fit, so a run restored from a run directory
# made before them gets them too (its pickled callbacks are those it started with).
RUN_LOGGERS = ["smarts_rl.persisted.ProgressTable", "smarts_rl.persisted.TensorBoardEvents",
               "smarts_rl.persisted.ResourceWait"]


def run_loggers():
    """Tune writes each trial's progress.csv and TensorBoard events through our callbacks while the
    block runs, and copies its files into the run directory file by file, each renamed into place."""
    from smarts_rl.upstream.tune import callbacks_by_name, sync_experiment_files_atomically

    sync_experiment_files_atomically()
    return callbacks_by_name(RUN_LOGGERS)


def repair_progress_tables(run_dir: Path) -> None:
    """A progress.csv that does not hold what result.json holds (garbled by Tune's CSV logger in a
    run resumed by an older version, or cut short by a kill) is rewritten from result.json."""
    repaired = repair_run(run_dir)
    if repaired:
        print(f"progress.csv of {len(repaired)} trial(s) ({', '.join(repaired)}) did not match result.json "
              "(written by an older version, or cut short by a kill): rewritten from result.json, nothing lost", flush=True)


def user_callbacks(cfg: Config, run_dir: Path) -> list:
    """`callbacks`: the user's Tune callbacks, each built from its `_target_` and arguments (a
    `run_dir` argument, if the class takes one, is given the run directory)."""
    import inspect

    from smarts_rl.config import import_target

    built = []
    for spec in cfg.callbacks:
        cls = import_target(spec["_target_"])
        kwargs = {k: v for k, v in spec.items() if k != "_target_"}
        if "run_dir" in inspect.signature(cls).parameters:
            kwargs.setdefault("run_dir", str(run_dir))
        built.append(cls(**kwargs))
    return built


def run_status(records: list[dict], limits: dict) -> str:
    """failed (a trial failed), completed (every trial reached its limits, or was stopped early by
    its scheduler), else interrupted (resume continues it)."""
    if any(r["error"] for r in records):
        return "failed"
    if records and all(r.get("stopped_early") or _reached(limits, r) for r in records):
        return "completed"
    return "interrupted"


def _reached(limits: dict, record: dict) -> bool:
    return reached(limits, {"training_iteration": record["training_iteration"],
                            "num_env_steps_sampled_lifetime": record["env_steps"],
                            "time_total_s": record.get("time_total_s", 0.0)})


def mark_stopped_early(records: list[dict], statuses: dict[str, str], limits: dict) -> None:
    """A trial its scheduler ended before the run's limits (Tune: terminated, without error) is
    "stopped_early": done, not interrupted."""
    for record in records:
        if statuses.get(record["trial_id"]) == "TERMINATED" and not record["error"] and not _reached(limits, record):
            record["stopped_early"] = True


def curves_title(cfg: Config, summary: dict) -> str:
    label = summary["scenario"] + (f" ({', '.join(summary['scenarios'])})" if cfg.scenario.set is not None else "")
    return f"{cfg.algo.name} on {label}"


def train(cfg: Config, run_dir: Path, resume: bool = False, warm: WarmStart | None = None) -> dict:
    """Run (or continue) the experiment; always leaves summary.json and curves.png behind.
    `warm`: where a new run's modules start from (`init_from`).

    The returned summary has `usage_error: True` (not saved) when the run was refused because
    the connected Ray cannot run what was asked (train.py then exits with 2)."""
    from smarts_rl.run.cluster import check_fit, check_run_dir_shared, largest_node_cpus, run_cpus
    from smarts_rl.run.resource_wait import waiting_for_resources
    from smarts_rl.scenarios.sets import build_scenarios

    run_dir = Path(run_dir).resolve()
    status, records, error, usage_error = "failed", [], None, False
    init_from = str(warm.checkpoint) if warm else recorded_checkpoint(run_dir, cfg) if resume else None
    try:
        check_mutations(cfg)
        # Every scenario of the set, built here before any env runner starts.
        scenario_dirs = build_scenarios(scenario_sources(cfg.scenario, cwd=Path.cwd()))
        if resume:
            migrate(run_dir)  # a run made before the promised names (smarts_rl/persisted.py) takes them first
            repair_progress_tables(run_dir)
        saved_state = latest_experiment_state(run_dir) if resume else None
        if saved_state:
            # A kill can land between what the scheduler records and the experiment state.
            cfg.scheduler.before_resume(run_dir, saved_state)
        with ray_session(cfg, list(scenario_dirs.values())) as cluster_cpus:
            cpus, node_cpus = run_cpus(cfg, cluster_cpus), largest_node_cpus()
            check_fit(cfg, cpus, cfg.scheduler.concurrent_trials(), node_cpus)
            if cfg.ray.address:
                check_run_dir_shared(run_dir)
            tuner = build_tuner(cfg, run_dir, scenario_dirs, cpus, resume, node_cpus, warm)
            with run_loggers(), waiting_for_resources(cfg.ray.wait_for_resources_s):
                results = tuner.fit()
        records = trial_records(results, algo_keys(cfg))
        limits = stop_limits(run_dir)
        if cfg.scheduler.stops_trials_early:
            from smarts_rl.upstream.tune import trial_statuses

            mark_stopped_early(records, trial_statuses(results), limits)
        status = run_status(records, limits)
    except UsageError as exc:  # found once Ray is up: what the cluster has cannot run what was asked
        error, usage_error = str(exc), True
    except KeyboardInterrupt:
        status = "interrupted"
        records = records or _records_on_disk(run_dir, cfg)
    except Exception as exc:
        _log_traceback(run_dir)
        error = one_line(exc)
        records = records or _records_on_disk(run_dir, cfg)
    finally:
        summary = write_summary(run_dir, status, header(cfg, init_from), records, error)
        try:
            write_run_curves(run_dir, records, curves_title(cfg, summary), summary["scenarios"])
        except Exception:  # a plot must never hide the run's outcome
            _log_traceback(run_dir)
    return {**summary, "usage_error": True} if usage_error else summary


def _scenario_names(cfg: Config) -> list[str]:
    try:
        return list(scenario_sources(cfg.scenario, Path.cwd()))
    except Exception:  # reported where the scenarios are built; the summary must still be written
        return []


def _records_on_disk(run_dir: Path, cfg: Config) -> list[dict]:
    """What the Tune experiment has saved so far, when `fit()` did not return."""
    try:
        from ray.tune import ExperimentAnalysis, ResultGrid

        if latest_experiment_state(run_dir) is None:
            return []
        return trial_records(ResultGrid(ExperimentAnalysis(str(experiment_dir(run_dir)))), algo_keys(cfg))
    except Exception:
        _log_traceback(run_dir)
        return []


def _log_traceback(run_dir: Path) -> None:
    """Tracebacks go to the run's train.log; the console gets one line (in the summary)."""
    with open(Path(run_dir) / LOG_FILE, "a") as f:
        f.write(traceback.format_exc())
