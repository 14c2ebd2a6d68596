"""`train.py resume=<run dir>`: continue a run in place, with the run's own config.

Only `stop.*` may change on resume (to extend a run): every other setting shaped the
trials, their checkpoints and the PBT population, so changing it mid-run would make the
result something no single config describes.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from smarts_rl.errors import UsageError

RUN_CONFIG = Path(".hydra") / "config.yaml"
EXPERIMENT_DIR = "tune"


def experiment_dir(run_dir: Path) -> Path:
    return Path(run_dir) / EXPERIMENT_DIR


def latest_experiment_state(run_dir: Path) -> Path | None:
    """The experiment state Tune restores from: the newest by name (one per session)."""
    return max(experiment_dir(run_dir).glob("experiment_state-*.json"), default=None)


def check_run_dir(path: str, cwd: Path) -> Path:
    run_dir = Path(path).expanduser()
    run_dir = (run_dir if run_dir.is_absolute() else Path(cwd) / run_dir).resolve()
    if not run_dir.is_dir():
        raise UsageError(f"resume: no such run directory: {run_dir}")
    if not (run_dir / RUN_CONFIG).is_file() or not (experiment_dir(run_dir) / "tuner.pkl").is_file():
        raise UsageError(
            f"resume: {run_dir} is not a run directory of train.py "
            f"(it needs {RUN_CONFIG} and a Tune experiment in {EXPERIMENT_DIR}/)"
        )
    return run_dir


def override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def check_resume_overrides(overrides: list[str]) -> list[str]:
    """The `stop.*` overrides to apply; anything else but `resume`/`hydra.*` is refused."""
    refused = [
        o for o in overrides
        if not (override_key(o) == "resume" or override_key(o).startswith(("stop.", "hydra.")))
    ]
    if refused:
        raise UsageError(
            "resume: only stop.* may change when resuming (the run continues with the config "
            f"its trials were built from); refused: {' '.join(refused)}"
        )
    malformed = [o for o in overrides if override_key(o).startswith("stop.") and o[0] in "+~"]
    if malformed:
        raise UsageError(f"resume: stop.* overrides take the form stop.<key>=<value>; got {' '.join(malformed)}")
    return [o for o in overrides if override_key(o).startswith("stop.")]


def resumed_config(run_dir: Path, stop_overrides: list[str]) -> DictConfig:
    """The run's own config with the new stop limits applied (not yet saved)."""
    cfg = OmegaConf.load(Path(run_dir) / RUN_CONFIG)
    if stop_overrides:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(stop_overrides))
    return cfg


def remember_stop(run_dir: Path, cfg: DictConfig) -> None:
    """Write the (validated) stop limits back, so the run's stopper and later resumes see them."""
    path = Path(run_dir) / RUN_CONFIG
    saved = OmegaConf.load(path)
    if saved.get("stop") != cfg.get("stop"):
        saved.stop = cfg.stop
        OmegaConf.save(saved, path)
