"""`smarts_rl.train(cfg, run_dir)`: a training run from Python, as `python train.py` starts one.

    from smarts_rl import train
    from smarts_rl.config import compose_config, settings

    cfg = settings(compose_config(["algo=ppo", "stop.training_iteration=5"]))
    summary = train(cfg, "outputs/my_run")
    print(summary["status"], summary["best"])

The settings are checked first (UsageError with the one line `train.py` would print, before Ray
starts); the run directory gets the config the run started with (`.hydra/config.yaml`, as Hydra
writes it for `train.py`), so `train.py resume=`, `evaluate`, `export` and `init_from=` take it as
any other run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import OmegaConf

from smarts_rl.config import CONTRACTS, TARGET, Config
from smarts_rl.run.preflight import check_settings, check_writable
from smarts_rl.run.resume import refuse_existing_run
from smarts_rl.run_dir.layout import RUN_CONFIG


def train(cfg: Config, run_dir: str | Path, cwd: str | Path | None = None) -> dict:
    """Train a new run of `cfg` in `run_dir` (made if missing); returns its summary (summary.json).
    `cwd`: where relative paths of `cfg` (scenario folders, `init_from`) are resolved (default: here)."""
    from smarts_rl.run import warm_start
    from smarts_rl.run.job import train as train_job

    cwd = Path(cwd or Path.cwd()).resolve()
    run_dir = (cwd / run_dir).resolve()
    check_settings(cfg, cwd)
    refuse_existing_run(run_dir)
    check_writable(run_dir)
    warm = warm_start.plan(cfg, cwd)
    save_config(cfg, run_dir)
    summary = train_job(cfg, run_dir, warm=warm)
    summary.pop("usage_error", None)
    return summary


def save_config(cfg: Config, run_dir: Path) -> None:
    """The run's config as `train.py`'s would be: its options with their `_target_`."""
    plain = dataclasses.asdict(cfg)
    for group in CONTRACTS:
        option = getattr(cfg, group)
        plain[group] = {TARGET: f"{type(option).__module__}.{type(option).__qualname__}", **plain[group]}
    path = Path(run_dir) / RUN_CONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(plain), path)
