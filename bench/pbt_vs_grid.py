"""PBT against a plain grid search at the same compute: does PBT find a better policy?

    python bench/pbt_vs_grid.py [--budget 200000] [--population 4] [hydra overrides]
    python bench/pbt_vs_grid.py --budget 100000 scenario=loop agent=laner env_runners.num_env_runners=0

Both spend `--budget` env steps in total, as `--population` trials of budget/population steps each,
trained side by side with train.py's code path:
- PBT: `scheduler=pbt` with its default lr and entropy_coeff mutations (lr in [1e-4, 3e-3]
  log-uniform; train_batch_size stays the algo's, as on the grid side), trial i with seed + i;
- grid: `scheduler=grid`, `--population` log-spaced lrs over the same [1e-4, 3e-3], one seed
  (Tune's FIFO scheduler).
Each side's best trial is the one with the highest mean return over its last `--last`
iterations (its "final return"); its final checkpoint is then evaluated with evaluate's code
path on the same seeds for both sides. Prints one JSON line last. Overrides of `scheduler.*`
(e.g. scheduler.perturbation_interval=2) apply to the PBT side only.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from datetime import datetime
from pathlib import Path

from learn_smarts import REPO, train

from smarts_rl.resume import override_key

LR_RANGE = (1e-4, 3e-3)  # conf/scheduler/pbt.yaml's lr mutation range


def grid_lrs(points: int) -> list[float]:
    low, high = (math.log10(v) for v in LR_RANGE)
    if points == 1:
        return [LR_RANGE[0]]
    return [float(f"{10 ** (low + i * (high - low) / (points - 1)):.3g}") for i in range(points)]


def final_return(trial_dir: Path, last: int) -> float | None:
    from smarts_rl.curves import read_progress

    _, returns, _ = read_progress(trial_dir)
    return statistics.fmean(returns[-last:]) if returns else None


def run_side(name: str, scheduler: list[str], overrides: list[str], run_dir: Path, last: int,
             episodes: int) -> dict:
    from smarts_rl.evaluate import evaluate

    summary, wall_s = train([*overrides, *scheduler], run_dir)
    trials = []
    for trial in summary["trials"]:
        trials.append({"trial_id": trial["trial_id"], "config": trial["config"], "env_steps": trial["env_steps"],
                       "final_return": final_return(Path(trial["path"]), last), "checkpoint": trial["checkpoint"]})
    scored = [t for t in trials if t["final_return"] is not None]
    best = max(scored, key=lambda t: t["final_return"])
    report = evaluate([f"run={run_dir}", f"checkpoint={best['checkpoint']}", f"episodes={episodes}", "gif=false"],
                      Path.cwd())
    print(f"{name}: best {best['trial_id']} final return {best['final_return']:.2f}, config {best['config']}",
          flush=True)
    return {
        "env_steps": sum(t["env_steps"] for t in trials),
        "wall_s": round(wall_s, 1),
        "best_final_return": round(best["final_return"], 2),
        "best_eval_return": round(report["policies"]["policy"]["episode_return_mean"], 2),
        "best_config": best["config"],
        "final_returns": [None if t["final_return"] is None else round(t["final_return"], 2) for t in trials],
        "run_dir": str(run_dir),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides shared by both sides")
    parser.add_argument("--budget", type=int, default=200_000, help="total env steps per side")
    parser.add_argument("--population", type=int, default=4, help="PBT population = grid points")
    parser.add_argument("--last", type=int, default=5, help="iterations averaged into a trial's final return")
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes of each side's best policy")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "bench" / "pbt_vs_grid")
    args = parser.parse_args()

    from smarts_rl.config import compose_config

    per_trial = args.budget // args.population
    pbt_only = [o for o in args.overrides if override_key(o).startswith("scheduler.")]
    shared = [o for o in args.overrides if o not in pbt_only]
    shared += [f"stop.timesteps_total={per_trial}", "stop.training_iteration=null"]
    cfg = compose_config(shared)
    out = args.out.resolve() / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    sides = {
        # A mutated train_batch_size would overshoot the step budget by up to one batch per trial.
        "pbt": ["scheduler=pbt", f"scheduler.population_size={args.population}",
                "~scheduler.hyperparam_mutations.train_batch_size", *pbt_only],
        "grid": ["scheduler=grid", f"scheduler.grid={{lr: {grid_lrs(args.population)}}}"],
    }
    results = {name: run_side(name, scheduler, shared, out / name, args.last, args.episodes)
               for name, scheduler in sides.items()}
    line = {
        "scenario": cfg.scenario.name,
        "agent": cfg.agent.name,
        "algo": cfg.algo.name,
        "budget_env_steps": args.budget,
        "population": args.population,
        **results,
        "pbt_minus_grid_final_return": round(results["pbt"]["best_final_return"] - results["grid"]["best_final_return"], 2),
        "pbt_minus_grid_eval_return": round(results["pbt"]["best_eval_return"] - results["grid"]["best_eval_return"], 2),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
