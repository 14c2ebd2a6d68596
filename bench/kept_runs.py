"""Finished bench runs kept in the repository, so that a bench of several seeds can span sessions.

A session on this machine keeps only what lands in git, not outputs/, and three 200k-step seeds
take most of one. `learn_smarts.py --seeds 0,1,2 --keep bench/results/runs/<name>` therefore copies
each seed's run there as soon as it is trained and evaluated, cut to what is read later:

    .hydra/*.yaml, resumes.jsonl, summary.json,   as they are
    exploits.jsonl
    tune/tuner.pkl                                the bench's own check that the seed was trained
    tune/<trial>/result.json                      each iteration's results, without Tune's copy of the
                                                  whole config on every line (it is in .hydra/config.yaml)
    tune/<trial>/<the best checkpoint>/           the trained policy: evaluate, export and init_from take it
    eval/<time>/eval.json                         each evaluation's figures

A kept run is still a run directory: `python -m smarts_rl.report`, `python -m smarts_rl.evaluate run=...`
and `train.py init_from=...` read it where it lies. When the bench's directory has no run for a seed
and the kept folder has one, the bench copies it back (`restore`) and finds that seed done.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from smarts_rl.run_dir.layout import (
    EXPLOITS_FILE, HYDRA_FILE, OVERRIDES_FILE, RESUMES_FILE, RUN_CONFIG, SUMMARY_FILE, eval_reports, result_files,
    tuner_file,
)
from smarts_rl.run_dir.trained_run import find_checkpoint

AS_THEY_ARE = (RUN_CONFIG, OVERRIDES_FILE, HYDRA_FILE, Path(RESUMES_FILE), Path(SUMMARY_FILE), Path(EXPLOITS_FILE))


def keep(run_dir: Path, kept_dir: Path) -> Path:
    """Copy a finished run's lasting part to `kept_dir` (replacing what was kept there before)."""
    run_dir, kept_dir = Path(run_dir).resolve(), Path(kept_dir)
    best = find_checkpoint(run_dir, "best", Path.cwd())
    staging = kept_dir.with_name(f".{kept_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    for relative in [*AS_THEY_ARE, tuner_file(run_dir).relative_to(run_dir)]:
        if (run_dir / relative).is_file():
            _copy_file(run_dir / relative, staging / relative)
    for result_file in result_files(run_dir):
        target = staging / result_file.relative_to(run_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(_without_config(line) for line in result_file.read_text().splitlines()))
    shutil.copytree(best, staging / best.resolve().relative_to(run_dir))
    for report in eval_reports(run_dir):
        _copy_file(report, staging / report.relative_to(run_dir))
    # Swapped in whole, so that a kept run is never half-written.
    shutil.rmtree(kept_dir, ignore_errors=True)
    staging.rename(kept_dir)
    return kept_dir


def restore(kept_dir: Path, run_dir: Path) -> bool:
    """Copy a kept run back to `run_dir` when that holds nothing yet; whether it did."""
    kept_dir, run_dir = Path(kept_dir), Path(run_dir)
    if run_dir.exists() or not (kept_dir / RUN_CONFIG).is_file():
        return False
    shutil.copytree(kept_dir, run_dir)
    return True


def _without_config(line: str) -> str:
    try:
        result = json.loads(line)
    except json.JSONDecodeError:
        return ""  # cut short by a killed run: read_results skips such lines anyway
    result.pop("config", None)  # Tune repeats the trial's whole config on every line
    return json.dumps(result) + "\n"


def _copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
