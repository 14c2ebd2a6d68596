"""`smarts_rl.train(cfg, run_dir)` and `smarts_rl.resume(run_dir, changes)`: training runs from
Python, as `python train.py` starts and continues them.

    from smarts_rl import train
    from smarts_rl.config import compose_config, settings

    cfg = settings(compose_config(["algo=ppo", "stop.training_iteration=5"]))
    summary = train(cfg, "outputs/my_run")
    print(summary["status"], summary["best"])

The settings are checked first (UsageError with the one line `train.py` would print, before Ray
starts); the run directory gets the config the run started with (`.hydra/config.yaml`, as Hydra
writes it for `train.py`), so `train.py resume=`, `evaluate`, `export` and `init_from=` take it as
any other run. `resume(run_dir, {"stop.timesteps_total": 400000})` continues one in place, with
the same checks and record of its changes as `train.py resume=<run dir> stop.timesteps_total=400000`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import OmegaConf

from smarts_rl.config import CONTRACTS, TARGET, Config
from smarts_rl.overrides import override_value
from smarts_rl.run.preflight import check_settings, check_writable
from smarts_rl.run.resume import (
    check_resume_overrides, check_run_dir, refuse_existing_run, remember_overrides, resumed_config,
)
from smarts_rl.run_dir.layout import OVERRIDES_FILE, RUN_CONFIG


def train(cfg: Config | list[str], run_dir: str | Path, cwd: str | Path | None = None) -> dict:
    """Train a new run in `run_dir` (made if missing); returns its summary (summary.json).

    `cfg`: typed settings (`settings(compose_config([...]))`), or train.py's overrides as a list
    (`["algo=ppo", "seed=1"]`), which are composed here and recorded as Hydra records them.
    `cwd`: where relative paths (scenario folders, `init_from`) are resolved (default: here)."""
    from smarts_rl.config import compose_config, settings
    from smarts_rl.overrides import absolute_scenario_path
    from smarts_rl.run.job import train as train_job

    cwd = Path(cwd or Path.cwd()).resolve()
    overrides = None
    if not isinstance(cfg, Config):
        overrides = absolute_scenario_path(list(cfg), cwd)
        cfg = settings(compose_config(overrides))
    run_dir = (cwd / run_dir).resolve()
    warm = check_settings(cfg, cwd)
    refuse_existing_run(run_dir)
    check_writable(run_dir)
    save_config(cfg, run_dir, overrides)
    summary = train_job(cfg, run_dir, warm=warm)
    summary.pop("usage_error", None)
    return summary


def resume(run_dir: str | Path, changes: dict | None = None, cwd: str | Path | None = None) -> dict:
    """Continue the run in `run_dir` in place, with `changes` ({"stop.training_iteration": 60, ...}:
    only the keys `train.py resume=` lets change); returns its summary."""
    run_dir = check_run_dir(str(run_dir), Path(cwd or Path.cwd()).resolve())
    summary = continue_run(run_dir, [f"{key}={override_value(value)}" for key, value in (changes or {}).items()])
    summary.pop("usage_error", None)
    return summary


def continue_run(run_dir: Path, overrides: list[str]) -> dict:
    """A checked run directory's run, continued with `overrides` (any but the keys a resume may
    change are refused), its changes recorded; as `train.py resume=` and `resume()` do it."""
    from smarts_rl.config import settings
    from smarts_rl.run.job import train as train_job

    raw = resumed_config(run_dir, check_resume_overrides(overrides))
    typed = settings(raw)
    remember_overrides(run_dir, raw)
    return train_job(typed, run_dir, resume=True)


def save_config(cfg: Config, run_dir: Path, overrides: list[str] | None = None) -> None:
    """The run's config as `train.py`'s would be: its options with their `_target_` (and the
    overrides it was composed with, which `report` groups runs by)."""
    plain = dataclasses.asdict(cfg)
    for group in CONTRACTS:
        option = getattr(cfg, group)
        plain[group] = {TARGET: f"{type(option).__module__}.{type(option).__qualname__}", **plain[group]}
    path = Path(run_dir) / RUN_CONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(plain), path)
    if overrides is not None:
        OmegaConf.save(OmegaConf.create(list(overrides)), Path(run_dir) / OVERRIDES_FILE)
