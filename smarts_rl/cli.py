"""The command line `python train.py [overrides]`: checks what the user asked for, then hands over
to Hydra, whose sweeper makes a multirun's jobs.

Mistakes (unknown group option or key, wrong type or value, a scenario or run directory
that is not one, an output directory that cannot be written) are reported as one line with
exit code 2 before Hydra creates a run directory or Ray starts anything.
"""

from __future__ import annotations

import shlex
import signal
import string
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from smarts_rl.config import (
    CONF_DIR, compose_config, experiment_presets, group_options, register_configs, settings,
)
from smarts_rl.errors import USAGE_EXIT_CODE, UsageError, one_line
from smarts_rl.run.resume import (
    check_resume_overrides,
    check_run_dir,
    override_key,
    refuse_existing_run,
    resumed_config,
)
from smarts_rl.overrides import absolute_scenario_path
from smarts_rl.run.preflight import check_settings, check_writable
from smarts_rl.run_dir.layout import CURVES_FILE, EXPERIMENT_DIR, SUMMARY_FILE
from smarts_rl.run_dir.summary import Summary
from smarts_rl.run_dir.trial_results import short_name

PROGRAM = "train.py"
# Flags after which Hydra prints something and exits, or which change where configs come from.
PASS_THROUGH_FLAGS = {
    "--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--info", "-i",
    "--shell-completion", "-sc", "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
}
MULTIRUN_FLAGS = {"--multirun", "-m"}
HELP_FLAGS = {"--help", "-h"}


def _help_groups() -> str:
    lines = [f"  {group}: {', '.join(options)}" for group, options in group_options().items()]
    lines.append(f"  +experiment (tuned presets, optional): {', '.join(experiment_presets())}")
    return "\n".join(lines)


OmegaConf.register_new_resolver("smarts_rl_groups", _help_groups, replace=True)


def print_help(argv: list[str]) -> None:
    """Hydra's `--help` page (conf/config.yaml's `hydra.help.template`), composed here: Hydra's own
    first lists every config group, schemas included, which takes seconds our template never shows."""
    cfg = compose_config([a for a in argv if not a.startswith("-")], return_hydra_config=True)
    template = cfg.hydra.help.template
    with open_dict(cfg):
        del cfg["hydra"]
    print(string.Template(template).safe_substitute(CONFIG=OmegaConf.to_yaml(cfg, resolve="--resolve" in argv)))


# -- preflight -----------------------------------------------------------------------------


def job_dir(cfg: DictConfig, job_num: int | None) -> Path:
    """The run directory Hydra will give this job (a multirun's: the sweep dir's subdir)."""
    if job_num is None:
        return Path(cfg.hydra.run.dir)
    cfg.hydra.job.num = job_num
    return Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)


def check_job(cfg: DictConfig, job_num: int | None) -> None:
    """A composed job (with its `hydra` node), before Hydra makes its run directory.
    `job_num`: the job's index in a multirun, None for a single run."""
    check_settings(settings(cfg), Path.cwd())
    refuse_existing_run(job_dir(cfg, job_num))
    check_writable(Path(cfg.hydra.sweep.dir if job_num is not None else cfg.hydra.run.dir))


def check_sweep(overrides: list[str]) -> None:
    """Every job of a multirun that Hydra's basic sweeper will run, checked before the first starts.

    The jobs are the sweeper's own list (choice, range, glob). A sweeper plugin picked with
    `hydra/sweeper=...` draws its jobs as it goes (`interval()`...): each is checked as it starts."""
    from hydra.errors import HydraException

    from smarts_rl.upstream.hydra import basic_sweep_jobs, is_basic_sweeper

    try:
        jobs = basic_sweep_jobs(overrides, str(CONF_DIR))
    except HydraException as exc:
        if is_basic_sweeper(compose_config(_plain(overrides), return_hydra_config=True)):
            raise UsageError(
                f"{one_line(exc)}: Hydra's basic sweeper runs choice (a,b), range() and glob() sweeps; "
                "pick a sweeper plugin with hydra/sweeper=<name> for others"
            ) from None
        return
    if not jobs:
        raise UsageError(f"the sweep {' '.join(overrides)} makes no job (a glob() that matches no option?)")
    for num, job in enumerate(jobs):
        cfg = compose_config(job, return_hydra_config=True)
        if not is_basic_sweeper(cfg):
            return
        check_job(cfg, num)


def _plain(overrides: list[str]) -> list[str]:
    """The overrides that are not sweeps (what a sweeper plugin's config is composed with)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    return [o.input_line for o in parsed if not o.is_sweep_override()]


def preflight(argv: list[str]) -> list[str]:
    """Validate the command line; returns the argv to hand to Hydra."""
    flags = [a for a in argv if a.startswith("-")]
    if any(f.split("=")[0] in PASS_THROUGH_FLAGS for f in flags):
        return argv
    multirun = any(f in MULTIRUN_FLAGS for f in flags)
    overrides = absolute_scenario_path([a for a in argv if not a.startswith("-")], Path.cwd())
    resume = next((o.split("=", 1)[1] for o in overrides if override_key(o) == "resume"), None)

    if resume not in (None, "", "null"):
        if any(override_key(o) == "init_from" and o.split("=", 1)[1] not in ("", "null") for o in overrides):
            raise UsageError(
                "init_from starts a new run from a trained policy, resume continues a run: give one of them"
            )
        if multirun:
            raise UsageError("resume: a run is resumed on its own, not in a multirun")
        run_dir = check_run_dir(resume, Path.cwd())
        changes = check_resume_overrides(overrides)
        settings(resumed_config(run_dir, changes))
        others = [o for o in overrides if override_key(o) != "resume"]
        # Continue in place, and keep the run's own .hydra/ as it is.
        return flags + others + [f"resume={run_dir}", f"hydra.run.dir={run_dir}", "hydra.output_subdir=null"]

    if multirun:
        check_sweep(overrides)
    else:
        check_job(compose_config(overrides, return_hydra_config=True), None)
    return flags + overrides


# -- the Hydra job -------------------------------------------------------------------------


def run_job(cfg: DictConfig) -> Summary:
    """One job of train.py as Hydra runs it; returns its summary (`status` decides the exit code;
    as a number, the objective a sweeper plugin maximises).

    A job of a sweeper that draws its jobs as it goes was not checked before it started: a
    mistake in it ends this job alone, with its one line."""
    from smarts_rl.run.job import train
    from smarts_rl.run.start import continue_run
    from smarts_rl.scenarios.build import ScenarioError

    run_dir = Path(HydraConfig.get().runtime.output_dir).resolve()
    try:
        if cfg.resume:
            summary = continue_run(run_dir, list(HydraConfig.get().overrides.task))
        else:
            typed = settings(cfg)
            # Hydra does not change the working directory (hydra.job.chdir).
            summary = train(typed, run_dir, warm=check_settings(typed, Path.cwd()))
    except (UsageError, ValueError, ScenarioError, OmegaConfBaseException) as exc:
        summary = {"status": "usage_error", "usage_error": True, "error": one_line(exc)}
    if summary.get("usage_error"):
        print(f"{PROGRAM}: error: {summary['error']}", file=sys.stderr)
        summary["status"] = "usage_error"
    else:
        print_summary(summary, run_dir)
    return Summary(summary)


def print_summary(summary: dict, run_dir: Path) -> None:
    """The outcome, where it is, and the command to run next."""
    best = summary.get("best") or {}
    line = f"{summary['status']}: {len(summary['trials'])} trial(s)"
    if best:
        line += f", best {short_name(best['trial_id'])} ({best['trial_id']}) return {best['episode_return_mean']:.2f}"
    if summary.get("error"):
        line += f"; error: {summary['error']}"
    print(line)
    where = shlex.quote(str(run_dir))
    print(f"outputs: {run_dir}/  ({CURVES_FILE}, {SUMMARY_FILE}; TensorBoard: tensorboard --logdir {where}/{EXPERIMENT_DIR})")
    if summary["status"] != "completed" and summary["trials"]:
        print(f"continue it with: python train.py resume={where}")
    if best.get("checkpoint"):
        print(f"evaluate it with: python -m smarts_rl.evaluate run={where}")


def exit_code(statuses: list[str], sigterm: bool = False) -> int:
    """The command's exit code from its jobs' statuses (an interrupted run: 130 after Ctrl-C,
    143 after SIGTERM, as a shell reports either signal)."""
    if "usage_error" in statuses:
        return USAGE_EXIT_CODE
    if "failed" in statuses:
        return 1
    if "interrupted" in statuses:
        return 128 + (signal.SIGTERM if sigterm else signal.SIGINT)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    register_configs()
    try:
        if HELP_FLAGS & set(argv):
            print_help(argv)
            return 0
        argv = preflight(argv)
    except UsageError as exc:
        print(f"{PROGRAM}: error: {exc}", file=sys.stderr)
        return USAGE_EXIT_CODE
    except Exception as exc:  # Hydra / OmegaConf / schema validation
        print(f"{PROGRAM}: error: {one_line(exc)}", file=sys.stderr)
        return USAGE_EXIT_CODE
    from smarts_rl.run.sigterm import interrupt_on_sigterm, sigterm_received

    summaries: list[dict] = []

    def task(cfg: DictConfig) -> dict:
        if sigterm_received():  # a multirun stops too: no job starts after SIGTERM
            raise _Terminated
        summaries.append(run_job(cfg))
        return summaries[-1]

    saved_argv, sys.argv = sys.argv, [sys.argv[0], *argv]
    # SIGTERM (a scheduler's time limit, a preemption) ends a run as Ctrl-C does.
    with interrupt_on_sigterm():
        try:
            hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")(task)()
        except _Terminated:
            pass
        finally:
            sys.argv = saved_argv
        return exit_code([summary["status"] for summary in summaries], sigterm_received())


class _Terminated(BaseException):
    """Raised through Hydra (which catches every Exception of a job) to end a multirun."""
