"""PBT against a plain grid search at the same compute: does PBT find a better policy?

    python bench/pbt_vs_grid.py [--budget 200000] [--population 4] [--repeats 3] [hydra overrides]   (in any order)
    python bench/pbt_vs_grid.py --budget 100000 --repeats 3 scenario=loop agent=laner env_runners.num_env_runners=0

Both spend `--budget` env steps in total, as `--population` trials of budget/population steps each,
trained side by side with train.py's code path:
- PBT: `scheduler=pbt` with its default lr and entropy_coeff mutations (lr in [1e-4, 3e-3]
  log-uniform; train_batch_size stays the algo's, as on the grid side), trial i with seed + i;
- grid: `scheduler=grid`, `--population` log-spaced lrs over the same [1e-4, 3e-3], one seed
  (Tune's FIFO scheduler).
Each side's best trial is the one with the highest mean return over its last `--last`
iterations (its "final return"); its final checkpoint is then evaluated with evaluate's code
path on the same seeds for both sides. Overrides of `scheduler.*` (e.g.
scheduler.perturbation_interval=2) apply to the PBT side only.

`--keep DIR` writes each side's figures to `DIR/repeat_<r>_<side>.json` as soon as that side is done,
and a later run with the same settings and `--keep DIR` takes them from there instead of training
again, so that the repeats (about 40 min each at 80k steps) may span sessions.

`--repeats N` runs both sides N times, repeat r with base seed `seed + r * population` (so no
two repeats share a PBT trial's seed), in `<out>/<time>/repeat_<r>/{pbt,grid}`. Prints one JSON
line last: per side, each repeat's figures and the best-trial final return and evaluation return
as IQM over the repeats with a 95% bootstrap CI (smarts_rl/evaluation/seed_statistics.py; none with one repeat).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime
from pathlib import Path

from learn_smarts import REPO, train

from smarts_rl.run.resume import override_key

LR_RANGE = (1e-4, 3e-3)  # conf/scheduler/pbt.yaml's lr mutation range


def grid_lrs(points: int) -> list[float]:
    low, high = (math.log10(v) for v in LR_RANGE)
    if points == 1:
        return [LR_RANGE[0]]
    return [float(f"{10 ** (low + i * (high - low) / (points - 1)):.3g}") for i in range(points)]


def final_return(trial_dir: Path, last: int) -> float | None:
    from smarts_rl.run_dir.curves import final_return as mean_of_last
    from smarts_rl.run_dir.curves import read_progress

    return mean_of_last(read_progress(trial_dir)[1], last)


def repeat_seeds(base_seed: int, repeats: int, population: int) -> list[int]:
    """Each repeat's base seed: PBT trial i of repeat r trains with base + r * population + i."""
    return [base_seed + r * population for r in range(repeats)]


def over_repeats(seeds: list[int], repeats: list[dict]) -> dict:
    """Each side's best-trial figures as IQM and CI over the repeats, the repeats' own beside them."""
    from smarts_rl.report import aggregate

    return {
        "best_final_return": aggregate(seeds, [r["best_final_return"] for r in repeats]),
        "best_eval_return": aggregate(seeds, [r["best_eval_return"] for r in repeats]),
        "repeats": repeats,
    }


def kept_side(keep: Path | None, name: str, settings: dict, run) -> dict:
    """A side's figures: from `keep/<name>.json` if it was kept with the same settings, else `run()`'s,
    then kept there."""
    if keep is None:
        return run()
    path = keep / f"{name}.json"
    if path.is_file():
        kept = json.loads(path.read_text())
        if kept["settings"] != settings:
            raise SystemExit(f"pbt_vs_grid: {path} was run with other settings ({kept['settings']}): "
                             "give another --keep")
        print(f"{name}: kept in {path}: reused", flush=True)
        return kept["figures"]
    figures = run()
    keep.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"settings": settings, "figures": figures}, indent=1) + "\n")
    return figures


def run_side(name: str, scheduler: list[str], overrides: list[str], run_dir: Path, last: int,
             episodes: int) -> dict:
    import smarts_rl

    summary, wall_s = train([*overrides, *scheduler], run_dir)
    trials = []
    for trial in summary["trials"]:
        trials.append({"trial_id": trial["trial_id"], "config": trial["config"], "env_steps": trial["env_steps"],
                       "final_return": final_return(Path(trial["path"]), last), "checkpoint": trial["checkpoint"]})
    scored = [t for t in trials if t["final_return"] is not None]
    best = max(scored, key=lambda t: t["final_return"])
    report = smarts_rl.evaluate(run=run_dir, checkpoint=best["checkpoint"], episodes=episodes, gif=False)
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


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The bench's options and train.py's overrides, in any order."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides shared by both sides")
    parser.add_argument("--budget", type=int, default=200_000, help="total env steps per side")
    parser.add_argument("--population", type=int, default=4, help="PBT population = grid points")
    parser.add_argument("--last", type=int, default=5, help="iterations averaged into a trial's final return")
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes of each side's best policy")
    parser.add_argument("--repeats", type=int, default=1, help="runs of both sides, each with another base seed")
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "bench" / "pbt_vs_grid")
    parser.add_argument("--keep", type=lambda text: Path(text).resolve(), default=None,
                        help="keep each side's figures in this folder, and take those kept there before")
    return parser.parse_intermixed_args(argv)


def main() -> int:
    args = arguments()

    from smarts_rl.config import compose_config

    per_trial = args.budget // args.population
    pbt_only = [o for o in args.overrides if override_key(o).startswith("scheduler.")]
    if args.repeats < 1:
        raise SystemExit("pbt_vs_grid: --repeats must be >= 1")
    shared = [o for o in args.overrides if o not in pbt_only]
    shared += [f"stop.timesteps_total={per_trial}", "stop.training_iteration=null"]
    cfg = compose_config(shared)
    shared = [o for o in shared if override_key(o) != "seed"]  # each repeat sets its own
    seeds = repeat_seeds(cfg.seed, args.repeats, args.population)
    out = args.out.resolve() / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    sides = {
        # A mutated train_batch_size would overshoot the step budget by up to one batch per trial.
        "pbt": ["scheduler=pbt", f"scheduler.population_size={args.population}",
                "~scheduler.hyperparam_mutations.train_batch_size", *pbt_only],
        "grid": ["scheduler=grid", f"scheduler.grid={{lr: {grid_lrs(args.population)}}}"],
    }
    runs = {name: [] for name in sides}
    for r, seed in enumerate(seeds):
        for name, scheduler in sides.items():
            overrides = [*shared, f"seed={seed}"]
            settings = {"overrides": overrides, "scheduler": scheduler, "last": args.last, "episodes": args.episodes}
            runs[name].append(kept_side(args.keep, f"repeat_{r}_{name}", settings, lambda: run_side(
                name, scheduler, overrides, out / f"repeat_{r}" / name, args.last, args.episodes)))
    results = {name: over_repeats(seeds, side_runs) for name, side_runs in runs.items()}
    line = {
        "scenario": cfg.scenario.name,
        "agent": cfg.agent.name,
        "algo": cfg.algo.name,
        "budget_env_steps": args.budget,
        "population": args.population,
        "seeds": seeds,
        **results,
        # Of the IQMs over repeats.
        "pbt_minus_grid_final_return": round(results["pbt"]["best_final_return"]["iqm"]
                                             - results["grid"]["best_final_return"]["iqm"], 2),
        "pbt_minus_grid_eval_return": round(results["pbt"]["best_eval_return"]["iqm"]
                                            - results["grid"]["best_eval_return"]["iqm"], 2),
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
