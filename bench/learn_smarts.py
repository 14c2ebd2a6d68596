"""Does it learn to drive? Train with train.py's code path, then evaluate with evaluate's.

    python bench/learn_smarts.py [options] [hydra overrides]   (in any order) e.g.
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

On a set (`scenario.set=[...]` or `scenario=mixed`), each seed's line has `per_scenario` (each
scenario's ratio and returns), the aggregate line has each scenario's IQM and CI under
`per_scenario`, and the target holds on each of them. `--held-out intersection` (names or
folders, comma-separated) also evaluates every seed's policy on scenarios it never trained on,
on the same episodes' seeds: `held_out` in each seed's line and, over the seeds, in the aggregate.

`--keep bench/results/runs/<name>` keeps each seed's run there once it is done (its config, results,
evaluations and best checkpoint: bench/kept_runs.py), so that the bench's seeds and its report outlive
outputs/; a seed kept there before is copied back and reused, so the same command goes on in a later session.
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

import kept_runs  # noqa: E402
from hydra.errors import HydraException  # noqa: E402
from omegaconf.errors import OmegaConfBaseException  # noqa: E402

from smarts_rl.errors import UsageError, exit_with, one_line  # noqa: E402
from smarts_rl.run.resume import override_key  # noqa: E402
from smarts_rl.scenarios.build import ScenarioError  # noqa: E402
from smarts_rl.run_dir.layout import SUMMARY_FILE, eval_reports, tuner_file  # noqa: E402
from smarts_rl.run_dir.run_config import run_config  # noqa: E402

PROGRAM = "learn_smarts"

TARGET_RATIO = 0.9  # the target for loop/continuous/pg at 200k env steps
BUDGET_KEYS = ("stop.timesteps_total", "stop.time_total_s")
# What the training functions raise for input they refuse (before anything starts): one line, exit 2.
REFUSALS = (UsageError, ValueError, ScenarioError, HydraException, OmegaConfBaseException)


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
    import smarts_rl

    started = time.monotonic()
    try:
        summary = smarts_rl.train(overrides, run_dir)
    except REFUSALS as exc:
        exit_with(one_line(exc), PROGRAM)
    wall_s = time.monotonic() - started
    if summary["status"] != "completed":
        raise SystemExit(f"learn_smarts: training ended {summary['status']}; see {run_dir}")
    return summary, wall_s


def resume(run_dir: Path, changes: dict) -> dict:
    """Continue a seed's run in place, as `train.py resume=<run dir> [stop.*]` does."""
    import smarts_rl

    try:
        summary = smarts_rl.resume(run_dir, changes)
    except REFUSALS as exc:
        exit_with(one_line(exc), PROGRAM)
    if summary["status"] != "completed":
        raise SystemExit(f"learn_smarts: resuming {run_dir} ended {summary['status']}")
    return summary


def on_a_set(report: dict) -> bool:
    return len(report.get("per_scenario") or {}) > 1


def ratio_to_keep_lane(report: dict) -> float | None:
    """The policy's return over keep-lane's; on a set, the mean of the per-scenario ratios."""
    if on_a_set(report):
        return round(report["ratio_to_keep_lane_mean"], 3)
    return scenario_figures(report)["ratio_to_keep_lane"]


def scenario_figures(entry: dict) -> dict:
    """One scenario's figures from an evaluation (a report, or one of its `per_scenario`)."""
    policies = entry["policies"]
    keep_lane = policies["keep_lane"]["episode_return_mean"]
    return {
        "ratio_to_keep_lane": round(policies["policy"]["episode_return_mean"] / keep_lane, 3) if keep_lane else None,
        "policy_return": round(policies["policy"]["episode_return_mean"], 2),
        "keep_lane_return": round(keep_lane, 2),
        "random_return": round(policies["random"]["episode_return_mean"], 2),
        "collision_rate": round(policies["policy"]["collision_rate"], 3),
        "reached_goal_rate": round(policies["policy"]["reached_goal_rate"], 3),
    }


def per_scenario(report: dict) -> dict:
    """Scenario name -> its figures, for every scenario the evaluation drove on."""
    entries = report.get("per_scenario") or {report["scenario"]: report}
    return {name: scenario_figures(entry) for name, entry in entries.items()}


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
        **({"per_scenario": per_scenario(report)} if on_a_set(report) else {}),
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


def seed_state(overrides: list[str], run_dir: Path) -> tuple[str, dict]:
    """("new" | "done" | "resume", the settings a resume changes: {key: value}) for one seed's run."""
    from omegaconf import OmegaConf

    from smarts_rl.overrides import absolute_scenario_path
    from smarts_rl.run_dir.trial_results import flatten
    from smarts_rl.config import compose_config
    from smarts_rl.run.resume import holds_run, may_change_on_resume

    if not tuner_file(run_dir).is_file():
        if holds_run(run_dir):  # killed before Tune saved its experiment: nothing to continue
            aside = run_dir.with_name(f"{run_dir.name}_unstarted_{datetime.now():%Y-%m-%d_%H-%M-%S}")
            run_dir.rename(aside)
            print(f"learn_smarts: {run_dir} never started training; moved to {aside}")
        return "new", {}
    saved = flatten(OmegaConf.to_container(run_config(run_dir)), sep=".")  # with its resumes' changes
    wanted = flatten(OmegaConf.to_container(compose_config(absolute_scenario_path(overrides, Path.cwd()))), sep=".")
    # A key the saved config lacks is newer than the run, which trained without it.
    differing = sorted(k for k in saved if k != "resume" and saved[k] != wanted.get(k))
    refused = [k for k in differing if not may_change_on_resume(k)]
    if refused:
        exit_with(f"{run_dir} was trained with other settings (of {', '.join(refused)}), which a resume cannot "
                  "change: give another --run-dir", PROGRAM)
    summary_file = run_dir / SUMMARY_FILE
    status = json.loads(summary_file.read_text()).get("status") if summary_file.is_file() else None
    if status == "completed" and not any(k.startswith("stop.") for k in differing):
        return "done", {}
    stop = [k for k in wanted if k.startswith("stop.")]
    return "resume", {k: wanted[k] for k in sorted(set(stop) | set(differing))}


def evaluation(run_dir: Path, episodes: int, sampled: bool, held_out: list[str] | None = None) -> dict:
    """The seed's evaluation of its best checkpoint with these episodes, on its own scenarios or on
    `held_out` ones: the saved one if there is one, else a new one."""
    import smarts_rl
    from smarts_rl.run_dir.trained_run import find_checkpoint

    checkpoint = str(find_checkpoint(run_dir, "best", Path.cwd()))
    label = held_out and "+".join(Path(entry).name for entry in held_out)
    for path in reversed(eval_reports(run_dir)):
        report = json.loads(path.read_text())
        # By trial and checkpoint name: a run directory that was moved names its old place.
        same_checkpoint = Path(report["checkpoint"]).parts[-2:] == Path(checkpoint).parts[-2:]
        if same_checkpoint and (len(report["seeds"]), report["deterministic"]) == (episodes, not sampled) \
                and report["scenario"] == (label or report["trained_on"]):
            print(f"reused: {path}")
            return report
    on = {"scenario": {"set": held_out, "name": label}} if held_out else {}
    report = smarts_rl.evaluate(run=run_dir, checkpoint=checkpoint, episodes=episodes, gif=False,
                                sample_actions=sampled, **on)
    smarts_rl.evaluate.print_report(report)
    return report


def run_seed(overrides: list[str], run_dir: Path, episodes: int, held_out: list[str]) -> dict:
    state, changes = seed_state(overrides, run_dir)
    print(f"learn_smarts: {run_dir.name}: " + {"new": "training", "done": "trained already: reused",
                                               "resume": "continuing its run"}[state], flush=True)
    if state == "new":
        summary, wall_s = train(overrides, run_dir)
    else:
        summary = resume(run_dir, changes) if state == "resume" else json.loads((run_dir / SUMMARY_FILE).read_text())
        # Tune's time over every session: the earlier sessions' wall times are gone.
        wall_s = max(t["time_total_s"] for t in summary["trials"])
    report, sampled = evaluation(run_dir, episodes, False), evaluation(run_dir, episodes, True)
    line = {**result_line(summary, wall_s, report, run_dir), **sampled_figures(sampled), "trained": state}
    if held_out:
        line["held_out"] = per_scenario(evaluation(run_dir, episodes, False, held_out))
    return line


def several_seeds(args, overrides: list[str]) -> dict:
    import smarts_rl
    from smarts_rl.report import aggregate

    if any(override_key(o) == "seed" for o in overrides):
        exit_with("give the seeds with --seeds, not as a seed= override", PROGRAM)
    seeds = parse_seeds(args.seeds)
    bench_dir = (args.run_dir or default_seeds_dir(overrides)).resolve()
    lines = []
    for seed in seeds:
        seed_dir = bench_dir / f"seed_{seed}"
        if args.keep and kept_runs.restore(args.keep / seed_dir.name, seed_dir):
            print(f"learn_smarts: {seed_dir.name}: copied back from {args.keep / seed_dir.name}", flush=True)
        lines.append(run_seed([*overrides, f"seed={seed}"], seed_dir, args.episodes, args.held_out))
        if args.keep:
            kept_runs.keep(seed_dir, args.keep / seed_dir.name)
        # Each seed's line as soon as it is done: a bench stopped later still leaves the seeds it finished.
        print(f"learn_smarts: seed_{seed}: " + json.dumps(lines[-1]), flush=True)
    try:
        built = smarts_rl.report(runs=[bench_dir / f"seed_{seed}" for seed in seeds], out=bench_dir)
    except UsageError as exc:
        exit_with(str(exc), PROGRAM)
    print(Path(built["written"][0]).read_text(), end="")
    [group] = built["groups"]
    scenarios = group["scenarios"]
    ratio = group["all_scenarios"]["ratio_to_keep_lane"] if "all_scenarios" in group else \
        next(iter(scenarios.values()))["ratio_to_keep_lane"]
    # On a set, the target holds on each scenario the policy trained on.
    seen = {name: rounded(figures["ratio_to_keep_lane"]) for name, figures in scenarios.items()}
    held_out = {name: rounded(aggregate(seeds, [line["held_out"][name]["ratio_to_keep_lane"] for line in lines]))
                for name in (lines[0].get("held_out") or {})}
    first = lines[0]
    return {
        **{k: first[k] for k in ("scenario", "agent", "algo", "scheduler")},
        "seeds": group["seeds"],
        "ratio_iqm": round(ratio["iqm"], 3),
        "ratio_ci": ratio["ci"] and [round(v, 3) for v in ratio["ci"]],
        "ratio_per_seed": [line["ratio_to_keep_lane"] for line in lines],
        **({"per_scenario": seen} if len(seen) > 1 else {}),
        **({"held_out": held_out} if held_out else {}),
        "eval_episodes": args.episodes,
        "target_ratio": TARGET_RATIO,
        "pass": all(figure["iqm"] >= TARGET_RATIO for figure in seen.values()),
        "report": str(bench_dir / "report.md"),
        "per_seed": lines,
    }


def rounded(figure: dict) -> dict:
    """A ratio's IQM, CI and per-seed values, as the JSON line gives them."""
    return {"iqm": round(figure["iqm"], 3), "ci": figure["ci"] and [round(v, 3) for v in figure["ci"]],
            "per_seed": [round(v, 3) for v in figure["per_seed"]]}


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The bench's options and train.py's overrides, in any order."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides (Hydra syntax)")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per policy")
    parser.add_argument("--run-dir", type=Path, default=None, help="where the run goes (with --seeds: the seeds' runs)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds, e.g. 0,1,2: one run each, then a report")
    parser.add_argument("--keep", type=lambda text: Path(text).resolve(), default=None,
                        help="with --seeds: keep each finished seed's run in this folder (bench/kept_runs.py), "
                             "and take seeds kept there before")
    parser.add_argument("--held-out", type=lambda text: [s for s in text.split(",") if s], default=[],
                        help="also evaluate on these scenarios (names or folders, comma-separated), e.g. intersection")
    return parser.parse_intermixed_args(argv)


def main() -> int:
    args = arguments()
    if args.keep and args.seeds is None:
        exit_with("--keep keeps the runs of --seeds: give --seeds too", PROGRAM)

    overrides = training_overrides(args.overrides)
    if args.seeds is not None:
        print(json.dumps(several_seeds(args, overrides)))
        return 0
    run_dir = (args.run_dir or default_run_dir(overrides)).resolve()
    line = run_seed(overrides, run_dir, args.episodes, args.held_out)
    line["target_ratio"] = TARGET_RATIO
    line["pass"] = line["ratio_to_keep_lane"] >= TARGET_RATIO
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
