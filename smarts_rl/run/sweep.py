"""`sweep_summary.csv` at a multirun's root: one row per job, rewritten after every job."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

SWEEP_SUMMARY_FILE = "sweep_summary.csv"
COLUMNS = ("job", "overrides", "status", "episode_return_mean", "env_steps", "run_dir")


class SweepSummary(Callback):
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.failed = 0

    def on_multirun_start(self, config, **kwargs: Any) -> None:
        self.rows, self.failed = [], 0

    def on_job_end(self, config, job_return, **kwargs: Any) -> None:
        hydra = config.hydra
        if hydra.mode is None or str(hydra.mode) != "RunMode.MULTIRUN":
            return
        try:
            summary = job_return.return_value or {}
        except Exception:  # the job raised: Hydra re-raises on access
            summary = {"status": "failed"}
        best = summary.get("best") or {}
        trials = summary.get("trials") or []
        best_trial = next((t for t in trials if t["trial_id"] == best.get("trial_id")), {})
        self.failed += summary.get("status") != "completed"
        self.rows.append(
            {
                "job": hydra.job.num,
                "overrides": " ".join(job_return.overrides or []),
                "status": summary.get("status", "failed"),
                "episode_return_mean": best.get("episode_return_mean"),
                "env_steps": best_trial.get("env_steps"),
                "run_dir": str(Path(hydra.runtime.output_dir).resolve()),
            }
        )
        path = Path(hydra.sweep.dir).resolve() / SWEEP_SUMMARY_FILE
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
