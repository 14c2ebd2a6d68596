"""`train.py resume=<run dir>`: continue a run in place, with the run's own config.

Only the keys that decide where and how fast the run samples may change on resume: `stop.*`
(to extend a run), `env_runners.*`, `ray.*`, `fault_tolerance.*` and `checkpoint.num_to_keep`
(to finish on another machine). Every other setting shaped what the trials learn, their
checkpoints and the PBT population, so changing it mid-run would make the result something no
single config describes.

The changes a resume makes are recorded in the run directory (`resumes.jsonl`: when, and each
key's old and new value), never written into `.hydra/config.yaml`, which keeps the config the
run started with; the run's config now is that plus the recorded changes
(smarts_rl/run_dir/run_config.py).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from smarts_rl.errors import UsageError
from smarts_rl.run_dir.layout import (
    EXPERIMENT_DIR, RUN_CONFIG, latest_experiment_state, SUMMARY_FILE, holds_config, tuner_file, user_directory,
)
from smarts_rl.run_dir.run_config import record_resume, run_config


def check_run_dir(path: str, cwd: Path) -> Path:
    run_dir = user_directory(path, cwd, "resume")
    if not holds_config(run_dir) or not tuner_file(run_dir).is_file():
        raise UsageError(
            f"resume: {run_dir} is not a run directory of train.py "
            f"(it needs {RUN_CONFIG} and a Tune experiment in {EXPERIMENT_DIR}/)"
        )
    if latest_experiment_state(run_dir) is None:
        raise UsageError(
            f"resume: {run_dir} keeps its checkpoints but not Tune's experiment state (a run kept for its "
            "results): evaluate it, or start a new run from it with init_from="
        )
    return run_dir


def override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


RESUMABLE_GROUPS = ("stop", "env_runners", "ray", "fault_tolerance")
RESUMABLE_KEYS = ("checkpoint.num_to_keep",)


def may_change_on_resume(key: str) -> bool:
    return key in RESUMABLE_KEYS or key.split(".", 1)[0] in RESUMABLE_GROUPS and "." in key


def check_resume_overrides(overrides: list[str]) -> list[str]:
    """The overrides to apply to the run's config; anything else but `resume`/`hydra.*` is refused."""
    refused = [
        o for o in overrides
        if not (override_key(o) == "resume" or override_key(o).startswith("hydra.") or may_change_on_resume(override_key(o)))
    ]
    if refused:
        raise UsageError(
            f"resume: only {', '.join(g + '.*' for g in RESUMABLE_GROUPS)} and {', '.join(RESUMABLE_KEYS)} may change "
            "when resuming (they decide where and how fast the run samples, not what its trials learn); "
            f"refused: {' '.join(refused)}"
        )
    changes = [o for o in overrides if may_change_on_resume(override_key(o))]
    malformed = [o for o in changes if o[0] in "+~"]
    if malformed:
        raise UsageError(f"resume: overrides take the form <key>=<value>; got {' '.join(malformed)}")
    return changes


def resumed_config(run_dir: Path, overrides: list[str]) -> DictConfig:
    """The run's config (with earlier resumes' changes) with this resume's overrides applied (not yet recorded)."""
    cfg = run_config(run_dir)
    if overrides:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(overrides))
    return cfg


def changes(before: DictConfig, after: DictConfig) -> dict:
    """{key: {"old": ..., "new": ...}} for each setting a resume may change that differs
    (`old` is null for a key the run's config did not have)."""
    old, new = _leaves(before), _leaves(after)
    return {
        key: {"old": old.get(key), "new": value}
        for key, value in sorted(new.items())
        if may_change_on_resume(key) and (key not in old or old[key] != value)
    }


def remember_overrides(run_dir: Path, cfg: DictConfig) -> dict | None:
    """Record how the (validated) resumed config `cfg` differs from the run's config, so that the
    run's stopper and callbacks and later resumes see it; the record, or None if nothing changed."""
    changed = changes(run_config(run_dir), cfg)
    return record_resume(run_dir, changed) if changed else None


def _leaves(cfg: DictConfig) -> dict:
    """Every value of `cfg` by its dotted key (lists are values); interpolations as written."""
    flat = {}

    def walk(node, prefix):
        for key, value in node.items():
            if isinstance(value, dict) and value:
                walk(value, f"{prefix}{key}.")
            else:
                flat[f"{prefix}{key}"] = value

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return flat


def holds_run(directory: Path) -> bool:
    """Whether a run of train.py already lives in `directory` (its config, Tune experiment or summary)."""
    directory = Path(directory)
    return any((directory / p).exists() for p in (RUN_CONFIG, EXPERIMENT_DIR, SUMMARY_FILE))


def refuse_existing_run(directory: Path) -> None:
    if holds_run(directory):
        raise UsageError(
            f"{Path(directory).resolve()} already holds a run: continue it with resume={Path(directory).resolve()}, "
            "or choose another directory (hydra.run.dir=..., or hydra.sweep.dir=... for a multirun)"
        )
