"""Does it learn to drive? Train with train.py's code path, then evaluate with evaluate's.

    python bench/learn_smarts.py [hydra overrides]   e.g.
    python bench/learn_smarts.py scenario=loop agent=continuous algo=pg stop.timesteps_total=200000
    python bench/learn_smarts.py +experiment=merge_pg agent=laner --episodes 20
    python bench/learn_smarts.py --seeds 0,1,2 +experiment=loop_pg agent=continuous

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

With `--seeds 0,1,2`, each seed is a run of its own in `<dir>/seed_<n>/` and the bench ends with
`python -m smarts_rl.report <dir>` (report.md, report.png, report.json there). The JSON line then
has the aggregate, `ratio_iqm` and `ratio_ci` (IQM and 95% bootstrap CI over the seeds of the
ratio to keep-lane), `ratio_per_seed`, and each seed's own line in `per_seed`. `<dir>` is
`--run-dir`, by default outputs/bench/learn_smarts/<scenario>_<agent>_<algo>_seeds_<hash of the
overrides>, so the same command finds its earlier seeds again: a seed already trained to the
same budget (and evaluated with the same episodes) is reused; a seed whose run was killed or
stopped, or that is asked for a larger `stop.*` budget, continues with `train.py resume=` (only
what a resume may change, such as `stop.*` and `env_runners.*`, may differ from the seed's own
config).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smarts_rl.errors import UsageError, exit_with  # noqa: E402
from smarts_rl.run.resume import override_key  # noqa: E402

PROGRAM = "learn_smarts"

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


def resume(run_dir: Path, stop_overrides: list[str]) -> dict:
    """Continue a seed's run in place, as `train.py resume=<run dir> [stop.*]` does."""
    from smarts_rl import cli

    code = cli.main([f"resume={run_dir}", *stop_overrides])
    summary_file = run_dir / "summary.json"
    if code != 0 or not summary_file.is_file():
        raise SystemExit(f"learn_smarts: resuming {run_dir} ended with exit code {code}")
    return json.loads(summary_file.read_text())


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


# -- several seeds -------------------------------------------------------------------------------


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        exit_with(f"--seeds takes comma-separated integers, e.g. 0,1,2; got {text!r}", PROGRAM)
    if not seeds or len(set(seeds)) < len(seeds):
        exit_with(f"--seeds needs distinct seeds, e.g. 0,1,2; got {text!r}", PROGRAM)
    return seeds


def default_seeds_dir(overrides: list[str]) -> Path:
    """Named by the overrides (not the time), so that running the same command again continues it."""
    from smarts_rl.config import compose_config

    cfg = compose_config(overrides)
    digest = hashlib.sha1(" ".join(sorted(overrides)).encode()).hexdigest()[:8]
    name = f"{cfg.scenario.name}_{cfg.agent.name}_{cfg.algo.name}_seeds_{digest}"
    return REPO / "outputs" / "bench" / "learn_smarts" / name


def seed_state(overrides: list[str], run_dir: Path) -> tuple[str, list[str]]:
    """("new" | "done" | "resume", the overrides a resume applies) for one seed's run."""
    from omegaconf import OmegaConf

    from smarts_rl.cli import absolute_scenario_path
    from smarts_rl.config import compose_config
    from smarts_rl.run.resume import RUN_CONFIG, experiment_dir, holds_run, may_change_on_resume

    if not (experiment_dir(run_dir) / "tuner.pkl").is_file():
        if holds_run(run_dir):  # killed before Tune saved its experiment: nothing to continue
            aside = run_dir.with_name(f"{run_dir.name}_unstarted_{datetime.now():%Y-%m-%d_%H-%M-%S}")
            run_dir.rename(aside)
            print(f"learn_smarts: {run_dir} never started training; moved to {aside}")
        return "new", []
    saved = flat(OmegaConf.to_container(OmegaConf.load(run_dir / RUN_CONFIG)))
    wanted = flat(OmegaConf.to_container(compose_config(absolute_scenario_path(overrides, Path.cwd()))))
    # A key the saved config lacks is newer than the run, which trained without it.
    differing = sorted(k for k in saved if k != "resume" and saved[k] != wanted.get(k))
    refused = [k for k in differing if not may_change_on_resume(k)]
    if refused:
        exit_with(f"{run_dir} was trained with other settings (of {', '.join(refused)}), which a resume cannot "
                  "change: give another --run-dir", PROGRAM)
    summary_file = run_dir / "summary.json"
    status = json.loads(summary_file.read_text()).get("status") if summary_file.is_file() else None
    if status == "completed" and not any(k.startswith("stop.") for k in differing):
        return "done", []
    stop = [k for k in wanted if k.startswith("stop.")]
    return "resume", [f"{k}={override_value(wanted[k])}" for k in sorted(set(stop) | set(differing))]


def flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        out.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def override_value(value) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def evaluation(run_dir: Path, episodes: int, sampled: bool) -> dict:
    """The seed's evaluation of its best checkpoint with these episodes: the saved one if there is
    one, else a new one."""
    from smarts_rl.evaluate import EVAL_FILE, evaluate, print_report
    from smarts_rl.run_dir.trained_run import find_checkpoint

    checkpoint = str(find_checkpoint(run_dir, "best", Path.cwd()))
    for path in sorted(run_dir.glob(f"eval/*/{EVAL_FILE}"), reverse=True):
        report = json.loads(path.read_text())
        # By trial and checkpoint name: a run directory that was moved names its old place.
        same_checkpoint = Path(report["checkpoint"]).parts[-2:] == Path(checkpoint).parts[-2:]
        if same_checkpoint and (len(report["seeds"]), report["deterministic"]) == (episodes, not sampled) \
                and report["scenario"] == report["trained_on"]:
            print(f"reused: {path}")
            return report
    report = evaluate([f"run={run_dir}", f"checkpoint={checkpoint}", f"episodes={episodes}", "gif=false",
                       *(["sample_actions=true"] if sampled else [])], Path.cwd())
    print_report(report)
    return report


def run_seed(overrides: list[str], run_dir: Path, episodes: int) -> dict:
    state, stop = seed_state(overrides, run_dir)
    print(f"learn_smarts: {run_dir.name}: " + {"new": "training", "done": "trained already: reused",
                                               "resume": "continuing its run"}[state], flush=True)
    if state == "new":
        summary, wall_s = train(overrides, run_dir)
    else:
        summary = resume(run_dir, stop) if state == "resume" else json.loads((run_dir / "summary.json").read_text())
        # Tune's time over every session: the earlier sessions' wall times are gone.
        wall_s = max(t["time_total_s"] for t in summary["trials"])
    report, sampled = evaluation(run_dir, episodes, False), evaluation(run_dir, episodes, True)
    return {**result_line(summary, wall_s, report, run_dir), **sampled_figures(sampled), "trained": state}


def several_seeds(args, overrides: list[str]) -> dict:
    from smarts_rl.report import report

    if any(override_key(o) == "seed" for o in overrides):
        exit_with("give the seeds with --seeds, not as a seed= override", PROGRAM)
    seeds = parse_seeds(args.seeds)
    bench_dir = (args.run_dir or default_seeds_dir(overrides)).resolve()
    lines = [run_seed([*overrides, f"seed={seed}"], bench_dir / f"seed_{seed}", args.episodes) for seed in seeds]
    runs = [str(bench_dir / f"seed_{seed}") for seed in seeds]
    try:
        built, written = report(runs + [f"out={bench_dir}"], Path.cwd())
    except UsageError as exc:
        exit_with(str(exc), PROGRAM)
    print(Path(written[0]).read_text(), end="")
    [group] = built["groups"]
    scenarios = group["scenarios"]
    ratio = group["all_scenarios"]["ratio_to_keep_lane"] if "all_scenarios" in group else \
        next(iter(scenarios.values()))["ratio_to_keep_lane"]
    first = lines[0]
    return {
        **{k: first[k] for k in ("scenario", "agent", "algo", "scheduler")},
        "seeds": group["seeds"],
        "ratio_iqm": round(ratio["iqm"], 3),
        "ratio_ci": ratio["ci"] and [round(v, 3) for v in ratio["ci"]],
        "ratio_per_seed": [line["ratio_to_keep_lane"] for line in lines],
        "eval_episodes": args.episodes,
        "target_ratio": TARGET_RATIO,
        "pass": ratio["iqm"] >= TARGET_RATIO,
        "report": str(bench_dir / "report.md"),
        "per_seed": lines,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides (Hydra syntax)")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per policy")
    parser.add_argument("--run-dir", type=Path, default=None, help="where the run goes (with --seeds: the seeds' runs)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds, e.g. 0,1,2: one run each, then a report")
    args = parser.parse_args()

    from smarts_rl.evaluate import evaluate, print_report

    overrides = training_overrides(args.overrides)
    if args.seeds is not None:
        print(json.dumps(several_seeds(args, overrides)))
        return 0
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
