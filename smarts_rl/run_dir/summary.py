"""`summary.json`: what a run did, written at its end, also when interrupted or failed."""

from __future__ import annotations

import json
import math
from pathlib import Path

from smarts_rl.run_dir.atomic_file import write_atomically
from smarts_rl.run_dir.layout import SUMMARY_FILE
from smarts_rl.run_dir.run_config import resumes
from smarts_rl.run_dir.trial_results import env_steps, episode_return


class Summary(dict):
    """summary.json's content, as a job of `train.py` returns it to Hydra. As a number (what a
    sweeper plugin such as Optuna's optimises: `float(summary)`), the best trial's mean episode
    return; NaN when the run has none (refused, or no episode finished)."""

    def __float__(self) -> float:
        value = (self.get("best") or {}).get("episode_return_mean")
        return float("nan") if value is None else float(value)


def trial_records(result_grid, algo_keys: list[str]) -> list[dict]:
    """One record per trial: progress, effective hyperparameters, latest checkpoint."""
    records = []
    for result in result_grid:
        metrics = result.metrics or {}
        config = result.config or {}
        records.append(
            {
                "trial_id": metrics.get("trial_id") or Path(result.path).name,
                "training_iteration": int(metrics.get("training_iteration", 0)),
                "time_total_s": round(float(metrics.get("time_total_s", 0.0)), 1),
                "env_steps": env_steps(metrics),
                "episode_return_mean": _finite(episode_return(metrics)),
                "config": {k: config[k] for k in [*algo_keys, "seed"] if k in config},
                "checkpoint": str(Path(result.checkpoint.path).resolve()) if result.checkpoint else None,
                "path": str(Path(result.path).resolve()),
                "error": None if result.error is None else str(result.error).splitlines()[0][:300],
                # Crashed simulations survived (smarts_rl/run/fault_tolerance.py): failed env steps
                # (their episodes dropped) and env runner processes restarted.
                "env_step_failures": int(metrics.get("env_runners", {}).get("num_env_step_failures", 0)),
                "env_runner_restarts": int(metrics.get("fault_tolerance", {}).get("num_remote_worker_restarts", 0)),
                # The last iteration's figures of each scenario of the set (env_runners/driving/scenario/).
                "per_scenario": per_scenario(metrics),
            }
        )
    return records


def per_scenario(metrics: dict) -> dict:
    scenarios = (metrics.get("env_runners") or {}).get("driving", {}).get("scenario", {}) or {}
    return {name: {k: _finite(float(v)) for k, v in sorted(figures.items())} for name, figures in sorted(scenarios.items())}


def best_trial(records: list[dict]) -> dict | None:
    scored = [r for r in records if r["episode_return_mean"] is not None]
    if not scored:
        return None
    best = max(scored, key=lambda r: r["episode_return_mean"])
    return {k: best[k] for k in ("trial_id", "episode_return_mean", "checkpoint")}


def write_summary(run_dir: Path, status: str, header: dict, records: list[dict], error: str | None = None) -> dict:
    """`resumes`: each resume that changed the run's config (when, each key's old and new value):
    the run went on with `.hydra/config.yaml` plus these changes."""
    summary = {"status": status, **header, "resumes": resumes(run_dir), "trials": records, "best": best_trial(records)}
    if error:
        summary["error"] = error
    write_atomically(Path(run_dir) / SUMMARY_FILE, json.dumps(summary, indent=2, default=str))
    return summary


def _finite(value):
    return value if value is not None and math.isfinite(value) else None
