"""`python -m smarts_rl.report <dir> [<dir> ...] [out=<dir>]`, or `smarts_rl.report(runs=[...])`:
results that hold across seeds.

Each <dir> is a run directory of train.py, a multirun (sweep) directory, or a
`bench/learn_smarts.py --seeds` directory: every run directory below it is read.
Runs are grouped by their config minus `seed` (each run's seed is read from its
.hydra/config.yaml), and each group is named by the overrides that differ between groups.
Per group and scenario:
  - learning curves: the mean over seeds of the best trial's mean return, on a common
    env-steps grid, with a 95% bootstrap CI band;
  - final training return: the mean over the best trial's last 5 iterations;
  - where the run has an eval.json (`python -m smarts_rl.evaluate`, its newest deterministic
    evaluation on the run's own scenario): the policy's evaluation return and its ratio to keep-lane.
Each figure is the IQM over seeds with a 95% stratified bootstrap CI, each seed's value beside
it (smarts_rl/evaluation/seed_statistics.py). A run's best trial is the one with the highest final return.
Written to the first <dir> (or out=<dir>): report.md, report.png, report.json; the table is printed.
"""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np
from omegaconf import OmegaConf

from smarts_rl import command_line
from smarts_rl.run_dir.atomic_file import write_atomically
from smarts_rl.run_dir.curves import final_return, read_progress, scenario_names, scenario_return_column
from smarts_rl.errors import UsageError
from smarts_rl.run_dir.layout import (
    EXPERIMENT_DIR, OVERRIDES_FILE, RESULT_FILE, RUN_CONFIG, eval_reports, holds_config, result_files, user_directory, user_path,
)
from smarts_rl.evaluation.seed_statistics import describe, iqm, iqm_ci, mean_band
from smarts_rl.run_dir.trained_run import run_config
from smarts_rl.run_dir.trial_results import RETURN_COLUMN, flatten

PROGRAM = "report"
REPORT_FILES = ("report.md", "report.png", "report.json")
CURVE_POINTS = 50
NOT_GROUPED = ("seed", "resume")  # a run's seed, and a resumed run's own path, do not make another config


@dataclass
class Options:
    """What `report` takes: the command line's keys, and `smarts_rl.report`'s keyword arguments."""

    runs: List[str] = field(default_factory=list)
    """Run directories of train.py, multirun (sweep) directories or bench directories: every run
    directory below each is read (required; on the command line, arguments without = say the same)."""
    out: str = ""
    """Where report.md, report.png and report.json go (empty: the first of runs)."""


class Skipped(Exception):
    """A run or group the report leaves out; the message says why, in one line."""


@dataclass
class Run:
    dir: Path
    seed: int
    config: dict
    overrides: list[str]
    curves: dict[str, tuple[list[float], list[float]]]  # scenario -> env steps, returns (best trial)
    evaluation: dict[str, dict] = field(default_factory=dict)  # scenario -> eval_return, ratio_to_keep_lane


# -- finding and reading runs -----------------------------------------------------------------


def run_dirs(path: Path) -> list[Path]:
    """`path` itself if it is a run directory, else every run directory below it."""
    if holds_config(path):
        return [path]
    return sorted(config.parent.parent for config in path.rglob(str(RUN_CONFIG)))


def read_run(run_dir: Path) -> Run:
    try:
        config = OmegaConf.to_container(run_config(run_dir), resolve=False)
        overrides = read_overrides(run_dir)
    except Exception as exc:  # a half-written or hand-edited .hydra/
        raise Skipped(f"{run_dir}: its .hydra/ cannot be read ({type(exc).__name__}); left out") from None
    seed = config.get("seed") if isinstance(config, dict) else None
    if not isinstance(seed, int):
        raise Skipped(f"{run_dir}: its {RUN_CONFIG} names no integer seed ({seed!r}); left out")
    curves = best_trial_curves(run_dir, config)
    if not curves:
        raise Skipped(f"{run_dir}: no trial has finished an episode yet (no return in {EXPERIMENT_DIR}/*/{RESULT_FILE}); left out")
    return Run(
        dir=run_dir,
        seed=seed,
        config={k: v for k, v in config.items() if k not in NOT_GROUPED},
        overrides=overrides,
        curves=curves,
        evaluation=read_evaluation(run_dir, config),
    )


def read_overrides(run_dir: Path) -> list[str]:
    path = run_dir / OVERRIDES_FILE
    overrides = OmegaConf.to_container(OmegaConf.load(path)) if path.is_file() else []
    return [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in NOT_GROUPED]


def scenario_columns(trial_dir: Path, config: dict) -> dict[str, str]:
    """Scenario name -> the result column of its return: one per scenario of a scenario set,
    else the run's scenario and the overall mean return."""
    names = sorted(scenario_names([trial_dir]))
    if names:
        return {name: scenario_return_column(name) for name in names}
    return {config["scenario"]["name"]: RETURN_COLUMN}


def best_trial_curves(run_dir: Path, config: dict) -> dict[str, tuple[list[float], list[float]]]:
    """The per-scenario curves of the run's trial with the highest final return."""
    best, best_return = None, None
    for result_file in result_files(run_dir):
        _, returns, _ = read_progress(result_file.parent)
        score = final_return(returns)
        if score is not None and (best_return is None or score > best_return):
            best, best_return = result_file.parent, score
    if best is None:
        return {}
    curves = {}
    for scenario, column in scenario_columns(best, config).items():
        steps, returns, _ = read_progress(best, column)
        if returns:
            # A PBT exploit moves a trial to another's env-step count: order its points by steps.
            order = np.argsort(steps, kind="stable")
            curves[scenario] = ([steps[i] for i in order], [returns[i] for i in order])
    return curves


def read_evaluation(run_dir: Path, config: dict) -> dict[str, dict]:
    """Scenario -> the policy's evaluation return and its ratio to keep-lane, from the run's newest
    deterministic evaluation on its own scenario (a transfer evaluation is another question)."""
    reports = []
    for path in eval_reports(run_dir):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if report.get("deterministic", True) and report.get("scenario") == report.get("trained_on"):
            reports.append(report)
    if not reports:
        return {}
    report = reports[-1]  # eval/<timestamp>/: the newest sorts last
    per_scenario = report.get("per_scenario") or {config["scenario"]["name"]: report}
    return {name: _eval_figures(entry) for name, entry in per_scenario.items()}


def _eval_figures(entry: dict) -> dict:
    policies = entry["policies"]
    policy = policies["policy"]["episode_return_mean"]
    ratio = entry.get("ratio_to_keep_lane")
    if ratio is None:
        keep_lane = policies["keep_lane"]["episode_return_mean"]
        ratio = policy / keep_lane if keep_lane else None
    return {"eval_return": policy, "ratio_to_keep_lane": ratio}


# -- groups and their figures -----------------------------------------------------------------


def group_runs(runs: list[Run], warn) -> list[list[Run]]:
    """Runs of the same config minus seed, in the order first seen; a seed counts once per group."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        key = json.dumps(run.config, sort_keys=True, default=str)
        group = groups.setdefault(key, [])
        twin = next((r for r in group if r.seed == run.seed), None)
        if twin:
            warn(f"{run.dir}: seed {run.seed} of this config is already {twin.dir}; left out (a seed counts once)")
            continue
        group.append(run)
    return [sorted(group, key=lambda r: r.seed) for group in groups.values()]


def group_names(groups: list[list[Run]]) -> list[str]:
    """Each group's overrides that not every group shares (falling back to the config keys that
    differ, when overrides do not tell groups apart)."""
    overrides = [group[0].overrides for group in groups]
    shared = set.intersection(*(set(o) for o in overrides))
    names = [" ".join(o for o in group if o not in shared) for group in overrides]
    if len(groups) > 1 and len(set(names)) < len(names):
        flat = [flatten(group[0].config, sep=".") for group in groups]
        differing = sorted(k for k in set().union(*flat) if len({json.dumps(f.get(k)) for f in flat}) > 1)
        names = [" ".join(f"{k}={json.dumps(f.get(k))}" for k in differing) for f in flat]
    if len(groups) == 1:
        names = [" ".join(overrides[0])]
    return [name or "defaults" for name in names]


def aggregate(seeds: list[int], values: list[float]) -> dict:
    """IQM and CI of one figure over seeds, with the per-seed values they come from."""
    figure = {"seeds": seeds, "per_seed": values, "iqm": iqm(values), "ci": iqm_ci(values)}
    if figure["ci"] is None:
        figure["ci_note"] = f"one seed ({seeds[0]}): no confidence interval"
    return figure


def learning_curve(runs: list[Run], scenario: str) -> dict | None:
    """Mean over seeds on a common env-steps grid (where every seed has points), with its CI band."""
    curves = [r.curves[scenario] for r in runs if scenario in r.curves]
    start, end = max(c[0][0] for c in curves), min(c[0][-1] for c in curves)
    if start > end:
        return None
    grid = np.linspace(start, end, CURVE_POINTS) if end > start else np.array([end])
    per_seed = np.array([np.interp(grid, steps, returns) for steps, returns in curves])
    band = mean_band(per_seed)
    return {
        "env_steps": grid.tolist(),
        "mean": per_seed.mean(axis=0).tolist(),
        "ci": None if band is None else [band[0].tolist(), band[1].tolist()],
        "per_seed": per_seed.tolist(),
    }


def scenario_figures(runs: list[Run], scenario: str) -> dict:
    with_curve = [r for r in runs if scenario in r.curves]
    figures = {
        "final_return": aggregate([r.seed for r in with_curve],
                                  [final_return(r.curves[scenario][1]) for r in with_curve]),
    }
    for name in ("eval_return", "ratio_to_keep_lane"):
        evaluated = [r for r in runs if (r.evaluation.get(scenario) or {}).get(name) is not None]
        if evaluated:
            figures[name] = aggregate([r.seed for r in evaluated], [r.evaluation[scenario][name] for r in evaluated])
    figures["curve"] = learning_curve(with_curve, scenario)
    return figures


def all_scenarios(scenarios: dict) -> dict | None:
    """With several scenarios: the IQM of the ratio to keep-lane over every (seed, scenario), its CI
    stratified by scenario (seeds resampled within each)."""
    ratios = {name: figures["ratio_to_keep_lane"] for name, figures in scenarios.items()
              if "ratio_to_keep_lane" in figures}
    if len(ratios) < 2:
        return None
    strata = [figure["per_seed"] for figure in ratios.values()]
    return {"ratio_to_keep_lane": {
        "per_seed": {name: figure["per_seed"] for name, figure in ratios.items()},
        "seeds": {name: figure["seeds"] for name, figure in ratios.items()},
        "iqm": iqm(np.concatenate(strata)),
        "ci": iqm_ci(*strata),
    }}


def build_report(paths: list[Path], warn) -> dict:
    runs, seen = [], set()
    for path in paths:
        found = run_dirs(path)
        if not found:
            warn(f"{path}: no run directory of train.py here (none holds {RUN_CONFIG})")
        for run_dir in found:
            if run_dir in seen:  # named twice (a run and its sweep): read once
                continue
            seen.add(run_dir)
            try:
                runs.append(read_run(run_dir))
            except Skipped as exc:
                warn(str(exc))
    if not runs:
        raise UsageError("nothing to report: no run with results in " + " ".join(str(p) for p in paths))
    groups = group_runs(runs, warn)
    report = {"groups": [], "statistics": describe()}
    for name, group in zip(group_names(groups), groups):
        scenarios = sorted({s for r in group for s in r.curves})
        entry = {
            "name": name,
            "overrides": group[0].overrides,
            "seeds": [r.seed for r in group],
            "runs": [str(r.dir) for r in group],
            "scenarios": {s: scenario_figures(group, s) for s in scenarios},
        }
        overall = all_scenarios(entry["scenarios"])
        if overall:
            entry["all_scenarios"] = overall
        if len(group) == 1:
            entry["note"] = (f"one seed ({group[0].seed}): reported without a confidence interval, "
                             "since a bootstrap over one run has nothing to resample; train more seeds "
                             "(train.py -m seed=0,1,2)")
            warn(f"group {name!r}: {entry['note']}")
        report["groups"].append(entry)
    return report


# -- output -----------------------------------------------------------------------------------


def _figure_cell(figure: dict | None) -> str:
    if not figure:
        return "-"
    ci = figure["ci"]
    interval = f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else " (no CI)"
    seeds = ", ".join(f"{s}: {v:.3g}" for s, v in zip(figure["seeds"], figure["per_seed"]))
    return f"{figure['iqm']:.3g}{interval} ({seeds})"


def markdown(report: dict) -> str:
    lines = [
        "IQM over seeds [95% bootstrap CI] (each seed's value). final return: the best trial's mean over its "
        "last 5 iterations; eval return and ratio: the deterministic policy in eval.json.",
        "",
        "| group | scenario | seeds | final return | eval return | ratio to keep-lane |",
        "|---|---|---|---|---|---|",
    ]
    for group in report["groups"]:
        for scenario, figures in group["scenarios"].items():
            lines.append(
                f"| {group['name']} | {scenario} | {','.join(map(str, group['seeds']))} | "
                f"{_figure_cell(figures['final_return'])} | {_figure_cell(figures.get('eval_return'))} | "
                f"{_figure_cell(figures.get('ratio_to_keep_lane'))} |"
            )
        if "all_scenarios" in group:
            overall = group["all_scenarios"]["ratio_to_keep_lane"]
            ci = overall["ci"]
            lines.append(f"| {group['name']} | all (stratified) | {','.join(map(str, group['seeds']))} | | | "
                         f"{overall['iqm']:.3g}" + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else " (no CI)") + " |")
    notes = [f"- {group['name']}: {group['note']}" for group in report["groups"] if "note" in group]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def plot(report: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = sorted({s for g in report["groups"] for s in g["scenarios"]})
    fig, axes = plt.subplots(1, len(scenarios), figsize=(6 * len(scenarios), 4.5), dpi=100, squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        for group in report["groups"]:
            curve = (group["scenarios"].get(scenario) or {}).get("curve")
            if not curve:
                continue
            label = textwrap.fill(f"{group['name']} (seeds {','.join(map(str, group['seeds']))})", 70)
            (line,) = ax.plot(curve["env_steps"], curve["mean"], linewidth=2, label=label,
                              marker="o" if len(curve["env_steps"]) == 1 else None)
            if curve["ci"]:
                ax.fill_between(curve["env_steps"], curve["ci"][0], curve["ci"][1], color=line.get_color(), alpha=0.2)
        ax.set_title(scenario)
        ax.set_xlabel("env steps")
        ax.set_ylabel("mean episode return (mean over seeds, 95% CI)")
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def write_report(report: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, png, js = (out / name for name in REPORT_FILES)
    write_atomically(md, markdown(report))
    plot(report, png)
    write_atomically(js, json.dumps(report, indent=2) + "\n")
    return [md, png, js]


def report(options: Optional[Options] = None, /, **keys) -> dict:
    """The report over the runs, written (report.md, report.png, report.json); returns report.json's
    content, with `written` (the three files' paths).

    Takes the command line's keys as keyword arguments, or an `Options`:
    `report(runs=["outputs/multirun/<date>/<time>"], out="reports/loop")`. Relative paths are from
    the working directory. A run left out is said on stderr (`report: <why>`). Bad input raises
    UsageError, its message one line."""
    return write(check(command_line.typed_options(Options, options, keys)))


@dataclass
class Plan:
    """A checked report: the directories to read, where to write."""

    paths: list[Path]
    out: Path


def check(options: Options, cwd: Optional[Path] = None) -> Plan:
    cwd = cwd or Path.cwd()
    if not options.runs:
        raise UsageError("give one or more run, sweep or bench directories: "
                         "python -m smarts_rl.report <dir> [...] [out=<dir>]")
    resolved = [user_directory(p, cwd, key=None) for p in options.runs]
    return Plan(resolved, user_path(options.out, cwd) if options.out else resolved[0])


def warn(message: str) -> None:
    print(f"{PROGRAM}: {message}", file=sys.stderr)


def write(plan: Plan) -> dict:
    built = build_report(plan.paths, warn)
    try:
        written = write_report(built, plan.out)
    except OSError as exc:
        raise UsageError(f"cannot write the report to {plan.out}: {exc.strerror or exc}") from None
    return {**built, "written": [str(path) for path in written]}


def show(built: dict) -> None:
    print(markdown(built), end="")
    for path in built["written"]:
        print(f"written: {path}")


COMMAND = command_line.Command(PROGRAM, Options, __doc__, check=check, run=write, show=show, positional="runs")


def main(argv: list[str] | None = None) -> int:
    return command_line.main(COMMAND, argv)


command_line.callable_module(report)

if __name__ == "__main__":
    raise SystemExit(main())
