"""What a run's settings must pass before Ray starts: the checks every way of training shares
(`train.py`, each job of a multirun, `smarts_rl.train`). Each raises UsageError (or ValueError)
with the one line the user sees."""

from __future__ import annotations

import os
from pathlib import Path

from smarts_rl.config import Config, check_mutations, import_target
from smarts_rl.errors import UsageError, one_line


def check_writable(directory: Path) -> None:
    """Create (then remove) what is missing of `directory`, to fail now rather than in Hydra."""
    directory = Path(directory).resolve()
    missing, existing = [], directory
    while not existing.exists():
        missing.append(existing)
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"cannot write the output directory {directory}: {existing} is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write_probe"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write the output directory {directory}: {exc.strerror or exc}") from None
    finally:
        for path in missing:
            try:
                path.rmdir()
            except OSError:
                pass


def check_resources(cfg) -> None:
    """What can be checked before Ray starts: a local Ray's CPUs and this machine's memory, the
    dashboard's packages. A cluster's CPUs are checked once connected (job.train)."""
    from smarts_rl.run.cluster import check_dashboard_installed, check_fit
    from smarts_rl.run.machine_fit import check_machine_fits

    if cfg.ray.dashboard:
        check_dashboard_installed()
    if not cfg.ray.address:
        cpus = cfg.ray.num_cpus or os.cpu_count()
        check_fit(cfg, cpus, cfg.scheduler.concurrent_trials(), cpus)
        check_machine_fits(cfg, cpus)


def check_callbacks(cfg) -> None:
    """Each of `callbacks` names an importable Tune callback."""
    for i, spec in enumerate(cfg.callbacks):
        try:
            import_target(spec["_target_"])
        except (ImportError, AttributeError, ValueError) as exc:
            raise UsageError(f"callbacks[{i}]: cannot import its _target_ {spec['_target_']} ({one_line(exc)})") from None


def check_settings(typed: Config, cwd: Path):
    """What a job's settings must pass before it trains; raises UsageError or ValueError. Returns
    the checked warm start (`init_from`; None without it), which the job then loads."""
    from smarts_rl.run import warm_start
    from smarts_rl.scenarios.sets import scenario_sources

    check_mutations(typed)
    check_callbacks(typed)
    check_resources(typed)
    scenario_sources(typed.scenario, cwd=cwd)
    return warm_start.plan(typed, cwd)
