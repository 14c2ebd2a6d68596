"""`curves.png`: mean episode return against env steps, one line per trial, PBT exploits marked;
for a set of scenarios, a panel more per scenario (its `env_runners/driving/scenario/<name>/return`)."""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.figure import Figure

from smarts_rl.run_dir.layout import CURVES_FILE, EXPLOITS_FILE
from smarts_rl.run_dir.trial_results import RETURN_COLUMN, STEPS_COLUMN, read_results

SCENARIO_PREFIX = "env_runners/driving/scenario/"


def scenario_return_column(name: str) -> str:
    return f"{SCENARIO_PREFIX}{name}/return"


def scenario_names(trial_dirs) -> list[str]:
    """The scenarios the trials logged returns for, in order of appearance."""
    names: dict[str, None] = {}
    for trial_dir in trial_dirs:
        for result in read_results(trial_dir):
            for key in result:
                if key.startswith(SCENARIO_PREFIX) and key.endswith("/return"):
                    names.setdefault(key[len(SCENARIO_PREFIX):-len("/return")])
    return list(names)


def read_progress(trial_dir: Path, column: str = RETURN_COLUMN) -> tuple[list[float], list[float], list[float]]:
    """Env steps, mean returns (or another `column`) and wall-clock timestamps of a trial's results."""
    steps, returns, times = [], [], []
    for result in read_results(trial_dir):
        try:
            point = float(result[STEPS_COLUMN]), float(result[column]), float(result["timestamp"])
        except (KeyError, TypeError, ValueError):
            continue  # iterations before the first finished episode have no return
        if point[1] != point[1]:
            continue  # NaN: no episode finished yet
        steps.append(point[0])
        returns.append(point[1])
        times.append(point[2])
    return steps, returns, times


def read_exploits(exploits_file: Path) -> list[dict]:
    if not exploits_file.exists():
        return []
    return [json.loads(line) for line in exploits_file.read_text().splitlines() if line.strip()]


SMOOTHING_ITERATIONS = 5


def running_mean(values: list[float], window: int = SMOOTHING_ITERATIONS) -> list[float]:
    return [sum(values[max(0, i - window + 1) : i + 1]) / (i + 1 - max(0, i - window + 1)) for i in range(len(values))]


def _split_points(steps: list[float], times: list[float], exploits: list[dict]) -> list[int]:
    """Indices where a new stretch of the curve starts: the first result after each exploit
    (the trial continues from another trial's weights, and env-step count)."""
    starts = set()
    for exploit in exploits:
        after = [j for j, t in enumerate(times) if t >= exploit["time"]]
        if after:
            starts.add(after[0])
    starts.update(j for j in range(1, len(steps)) if steps[j] < steps[j - 1])
    return sorted(starts)


def write_run_curves(run_dir: Path, records: list[dict], title: str, scenarios: list[str]) -> Path:
    """The run's curves.png, from its summary's trial records (and its PBT exploits)."""
    out = Path(run_dir) / CURVES_FILE
    run_figure(run_dir, records, title, scenarios).savefig(out)
    return out


def run_figure(run_dir: Path, records: list[dict], title: str, scenarios: list[str]) -> Figure:
    trial_dirs = {r["trial_id"]: Path(r["path"]) for r in records}
    return curves_figure(trial_dirs, read_exploits(Path(run_dir) / EXPLOITS_FILE), title, scenarios)


def curves_figure(trial_dirs: dict[str, Path], exploits: list[dict] = (), title: str = "",
                  scenarios: list[str] | None = None) -> Figure:
    """The figure of curves.png. `scenarios`: the set's names, in its order (default: those the results have)."""
    scenarios = scenario_names(trial_dirs.values()) if scenarios is None else scenarios
    panels = [(RETURN_COLUMN, title + (" (all scenarios)" if len(scenarios) > 1 else ""))]
    if len(scenarios) > 1:
        panels += [(scenario_return_column(name), f"scenario {name}") for name in scenarios]
    columns = 1 if len(panels) == 1 else 2
    rows = (len(panels) + columns - 1) // columns
    # A Figure of its own, not pyplot's: nothing global to close, whoever draws it.
    fig = Figure(figsize=(8 * columns, 4.5 * rows), dpi=100)
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, (column, panel_title) in zip(axes.flat, panels):
        _plot_panel(ax, trial_dirs, exploits, column, panel_title)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _plot_panel(ax, trial_dirs: dict[str, Path], exploits: list[dict], column: str, title: str) -> None:
    for trial_id, trial_dir in sorted(trial_dirs.items()):
        steps, returns, times = read_progress(trial_dir, column)
        if not steps:
            continue
        starts = _split_points(steps, times, [e for e in exploits if e["trial_id"] == trial_id])
        bounds = [0, *starts, len(steps)]
        color = None
        for begin, end in zip(bounds, bounds[1:]):
            # RLlib's mean return covers one iteration's episodes only: show it faintly, and
            # a running mean over the last few iterations boldly.
            (line,) = ax.plot(steps[begin:end], returns[begin:end], linewidth=0.8, alpha=0.35, color=color,
                              marker="." if end - begin == 1 else None)
            color = line.get_color()
            ax.plot(steps[begin:end], running_mean(returns[begin:end]), linewidth=2.0, color=color,
                    label=trial_id if begin == 0 else None)
            if begin in starts:
                ax.scatter([steps[begin]], [returns[begin]], marker="v", s=60, color=color,
                           edgecolors="black", zorder=3)
    if exploits:
        ax.scatter([], [], marker="v", s=60, color="white", edgecolors="black", label="PBT exploit")
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"mean episode return (bold: last {SMOOTHING_ITERATIONS} iterations)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.has_data():
        ax.legend(fontsize=8, loc="best")
    else:
        ax.text(0.5, 0.5, "no finished episodes yet", ha="center", va="center", transform=ax.transAxes)


def final_return(returns: list[float], last: int = SMOOTHING_ITERATIONS) -> float | None:
    """A trial's final return: the mean over its last `last` iterations (one iteration's mean
    return covers a few episodes only)."""
    return sum(returns[-last:]) / len(returns[-last:]) if returns else None
