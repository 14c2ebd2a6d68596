"""Does it learn to drive? Train with train.py's code path, then evaluate with evaluate's.

    python bench/learn_smarts.py [hydra overrides]   e.g.
    python bench/learn_smarts.py scenario=loop agent=continuous algo=pg stop.timesteps_total=200000
    python bench/learn_smarts.py +experiment=merge_pg agent=laner --episodes 20

Trains once (`python train.py <overrides>`; `stop.training_iteration` is lifted when a step or time
budget is given, since its default of 30 would end the run first), then runs the evaluation of the
final policy against keep-lane and random on the same seeds (`python -m smarts_rl.evaluate`),
and prints one JSON line last:

    {"scenario", "agent", "algo", "env_steps", "wall_s", "policy_return", "keep_lane_return",
     "random_return", "ratio_to_keep_lane", "collision_rate", ...}

`wall_s` is the training's wall time; `collision_rate` is the trained policy's in the evaluation.
The policy takes its most likely action there (the Gaussian's mean); a second evaluation on the
same seeds lets it sample its actions as in training (`evaluate sample_actions=true`), reported
as `policy_return_sampled`, `ratio_to_keep_lane_sampled` and `collision_rate_sampled`. The
target is on the first.
The run directory (curves.png, summary.json, eval/) is kept: `--run-dir`, by default
outputs/bench/learn_smarts/<scenario>_<agent>_<algo>_<time>.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smarts_rl.resume import override_key  # noqa: E402

TARGET_RATIO = 0.9  # the target for loop/continuous/pg at 200k env steps
BUDGET_KEYS = ("stop.timesteps_total", "stop.time_total_s")


def training_overrides(overrides: list[str]) -> list[str]:
    """The user's overrides, with the iteration limit lifted when another budget is set."""
    keys = {override_key(o) for o in overrides}
    if keys & set(BUDGET_KEYS) and "stop.training_iteration" not in keys:
        return [*overrides, "stop.training_iteration=null"]
    return list(overrides)


def default_run_dir(overrides: list[str]) -> Path:
    from smarts_rl.config import compose_config

    cfg = compose_config(overrides)
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return REPO / "outputs" / "bench" / "learn_smarts" / f"{cfg.scenario.name}_{cfg.agent.name}_{cfg.algo.name}_{stamp}"


def train(overrides: list[str], run_dir: Path) -> tuple[dict, float]:
    from smarts_rl import cli

    started = time.monotonic()
    code = cli.main([*overrides, f"hydra.run.dir={run_dir}"])
    wall_s = time.monotonic() - started
    summary_file = run_dir / "summary.json"
    if code != 0 or not summary_file.is_file():
        raise SystemExit(f"learn_smarts: training ended with exit code {code}; see {run_dir}")
    return json.loads(summary_file.read_text()), wall_s


def ratio_to_keep_lane(report: dict) -> float:
    policies = report["policies"]
    return round(policies["policy"]["episode_return_mean"] / policies["keep_lane"]["episode_return_mean"], 3)


def result_line(summary: dict, wall_s: float, report: dict, run_dir: Path) -> dict:
    policies = report["policies"]
    policy, keep_lane = policies["policy"], policies["keep_lane"]
    [trial] = [t for t in summary["trials"] if t["trial_id"] == summary["best"]["trial_id"]]
    return {
        "scenario": summary["scenario"],
        "agent": summary["agent"],
        "algo": summary["algo"],
        "scheduler": summary["scheduler"],
        "seed": summary["seed"],
        "env_steps": sum(t["env_steps"] for t in summary["trials"]),
        "wall_s": round(wall_s, 1),
        "policy_return": round(policy["episode_return_mean"], 2),
        "keep_lane_return": round(keep_lane["episode_return_mean"], 2),
        "random_return": round(policies["random"]["episode_return_mean"], 2),
        "ratio_to_keep_lane": ratio_to_keep_lane(report),
        "collision_rate": round(policy["collision_rate"], 3),
        "reached_goal_rate": round(policy["reached_goal_rate"], 3),
        "keep_lane_collision_rate": round(keep_lane["collision_rate"], 3),
        "eval_episodes": len(report["seeds"]),
        "best_trial_env_steps": trial["env_steps"],
        "run_dir": str(run_dir),
    }


def sampled_figures(report: dict) -> dict:
    policy = report["policies"]["policy"]
    return {
        "policy_return_sampled": round(policy["episode_return_mean"], 2),
        "ratio_to_keep_lane_sampled": ratio_to_keep_lane(report),
        "collision_rate_sampled": round(policy["collision_rate"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides (Hydra syntax)")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per policy")
    parser.add_argument("--run-dir", type=Path, default=None, help="where the run goes")
    args = parser.parse_args()

    from smarts_rl.evaluate import evaluate, print_report

    overrides = training_overrides(args.overrides)
    run_dir = (args.run_dir or default_run_dir(overrides)).resolve()
    summary, wall_s = train(overrides, run_dir)
    report = evaluate([f"run={run_dir}", f"episodes={args.episodes}", "gif=false"], Path.cwd())
    print_report(report)
    sampled = evaluate([f"run={run_dir}", f"episodes={args.episodes}", "gif=false", "sample_actions=true"], Path.cwd())
    print_report(sampled)
    line = {**result_line(summary, wall_s, report, run_dir), **sampled_figures(sampled)}
    line["target_ratio"] = TARGET_RATIO
    line["pass"] = line["ratio_to_keep_lane"] >= TARGET_RATIO
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
