"""Console output for training: one short line per trial per iteration, no config dumps.

    trial  iter  done     ETA  env steps    return   goal  collision  steps/s
    3         3   10%   4m30s       3012    183.84    20%        10%    100.4

`done` is the share of the stop budget used (of whichever `stop.*` limit is nearest), `ETA` the
trial's training time left at its pace so far, `goal` and `collision` the shares of the
iteration's own agent episodes that reached their goal or collided. A trial's name is its
number in the run (trial `a1b2c_00003` is 3). A run of several trials also gets a `run` line
after each of them: the whole run's share of its budget (the trials' shares averaged), the wall
time left at the pace of this session so far, the env steps of all trials and their steps/s.
The lines are plain text, so a log or a pipe gets them as they are; only a terminal gets a bold
header and failures in red.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ray.tune import Callback

from smarts_rl.env.driving_metrics import THIS_ITER
from smarts_rl.run.stopping import LIMITS, stop_limits
from smarts_rl.run_dir.layout import run_dir_of
from smarts_rl.run_dir.trial_results import ENV_RUNNER_KEY, ITER_STEPS_KEY, env_steps, episode_return, nested, short_name

COLUMNS = (("trial", 5), ("iter", 5), ("done", 5), ("ETA", 7), ("env steps", 10), ("return", 9),
           ("goal", 6), ("collision", 10), ("steps/s", 8))
BOLD, RED, RESET = "\x1b[1m", "\x1b[31m", "\x1b[0m"


def budget_share(limits: dict, result: dict) -> float | None:
    """How much of the stop budget the trial has used, 0 to 1, by the limit nearest to done
    (None without limits)."""
    shares = [min(1.0, LIMITS[key](result) / limit) for key, limit in limits.items()]
    return max(shares, default=None)


def eta_seconds(limits: dict, result: dict) -> float | None:
    """Training seconds until the first limit is reached, at the trial's pace so far."""
    elapsed = float(result.get("time_total_s") or 0.0)
    left = []
    for key, limit in limits.items():
        done = LIMITS[key](result)
        if key == "time_total_s":
            left.append(limit - done)
        elif done > 0:
            left.append(elapsed * (limit - done) / done)
    return max(0.0, min(left)) if left else None


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def iteration_rates(result: dict) -> tuple[float | None, float | None]:
    """The reached-goal and collision shares of the iteration's agent episodes (None: no episode ended)."""
    counts = nested(result, (ENV_RUNNER_KEY, *THIS_ITER)) or {}
    episodes = counts.get("episodes") or 0
    if not episodes:
        return None, None
    return counts.get("reached_goal", 0) / episodes, counts.get("collision", 0) / episodes


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def header() -> str:
    return " ".join(f"{name:<{width}}" if i == 0 else f"{name:>{width}}" for i, (name, width) in enumerate(COLUMNS))


def line(trial_id: str, result: dict, limits: dict) -> str:
    """One iteration of one trial, in the columns of `header()`."""
    seconds = result.get("time_this_iter_s") or 0.0
    rate = (nested(result, ITER_STEPS_KEY) or 0) / seconds if seconds else 0.0
    ret = episode_return(result)
    goal, collision = iteration_rates(result)
    cells = (
        short_name(trial_id),
        result.get("training_iteration", 0),
        _percent(budget_share(limits, result)),
        duration(eta_seconds(limits, result)),
        env_steps(result),
        "-" if ret is None else f"{ret:.2f}",
        _percent(goal),
        _percent(collision),
        f"{rate:.1f}",
    )
    return _aligned(cells)


def _aligned(cells) -> str:
    return " ".join(
        f"{cell:<{width}}" if i == 0 else f"{cell:>{width}}" for i, (cell, (_, width)) in enumerate(zip(cells, COLUMNS))
    )


def run_line(share: float | None, eta: float | None, steps: int, rate: float | None) -> str:
    """The whole run's line, in the columns of `header()`: budget share, ETA, env steps, steps/s."""
    return _aligned(("run", "", _percent(share), duration(eta), steps, "", "", "", "-" if rate is None else f"{rate:.1f}"))


def finished_trials(trials: list) -> set[str]:
    """Trials with nothing left to train: done, stopped early by their scheduler, or failed."""
    return {t.trial_id for t in trials if getattr(t, "status", None) in ("TERMINATED", "ERROR")}


class RunProgress:
    """The whole run's progress from its trials' latest results: the share of its budget used and
    the wall time left at the pace of this session (a resumed run's earlier sessions are done)."""

    def __init__(self, limits: dict, start_results: dict[str, dict], finished_at_start: set[str] = frozenset()):
        self._limits = limits
        self._start = time.monotonic()
        self._start_results = dict(start_results)
        self._finished_at_start = set(finished_at_start)
        self._latest = dict(start_results)

    def _share(self, result: dict | None, finished: bool) -> float:
        if finished:
            return 1.0
        if not result:
            return 0.0
        return budget_share(self._limits, result) or 0.0

    def report(self, trials: list, trial_id: str, result: dict) -> tuple[float | None, float | None, int, float | None]:
        """(share, ETA seconds, env steps, env steps/s) once `trial_id` reported `result`."""
        self._latest[trial_id] = result
        if not self._limits or not trials:
            return None, None, sum(env_steps(r) for r in self._latest.values()), None
        finished = finished_trials(trials)
        ids = [t.trial_id for t in trials]
        share = sum(self._share(self._latest.get(i), i in finished) for i in ids) / len(ids)
        start = sum(self._share(self._start_results.get(i), i in self._finished_at_start) for i in ids) / len(ids)
        elapsed = time.monotonic() - self._start
        eta = elapsed * (1.0 - share) / (share - start) if share > start else None
        steps = sum(env_steps(self._latest[i]) for i in ids if i in self._latest)
        start_steps = sum(env_steps(self._start_results[i]) for i in ids if i in self._start_results)
        return share, eta, steps, (steps - start_steps) / elapsed if elapsed > 0 else None


def styled(text: str, style: str, terminal: bool) -> str:
    return f"{style}{text}{RESET}" if terminal else text


def stdout_is_terminal() -> bool:
    """Styles only for a person at a terminal (https://no-color.org: NO_COLOR turns them off)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _print_now(text: str) -> None:
    print(text, flush=True)  # also when stdout is a file or a pipe


class TrialLines(Callback):
    """Prints the header, then one `line()` per trial result; the stop budget is the run's
    `stop` settings, read from its run directory (a resume may have extended them).
    `config_file`: the run's `.hydra/config.yaml`."""

    # Class defaults: Tune pickles this callback with the experiment, and a resumed run may
    # bring back one pickled before an attribute existed.
    _config_file = None
    _limits = None
    _terminal = None
    _run = None  # RunProgress, from the session's first step

    def __init__(self, config_file: Path | None = None, print_fn=None, terminal: bool | None = None):
        self._config_file = None if config_file is None else str(config_file)
        self._print = print_fn
        self._terminal = terminal
        self._header_printed = False

    def __getstate__(self):
        # Read again in the session that restores it: the limits may change, the terminal too.
        return {"_config_file": self._config_file, "_print": self._print, "_header_printed": False}

    def _emit(self, text: str, style: str = "") -> None:
        if self._terminal is None:
            self._terminal = stdout_is_terminal()
        (self._print or _print_now)(styled(text, style, self._terminal) if style else text)

    def _stop_limits(self) -> dict:
        if self._limits is None:
            self._limits = stop_limits(run_dir_of(self._config_file)) if self._config_file else {}
        return self._limits

    def on_step_begin(self, iteration, trials, **info):
        if self._run is None:
            # Before this session's first result: what the trials had done (a resumed run's).
            started = {t.trial_id: t.last_result for t in trials if getattr(t, "last_result", None)}
            self._run = RunProgress(self._stop_limits(), started, finished_trials(trials))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if not self._header_printed:
            self._emit(header(), BOLD)
            self._header_printed = True
        self._emit(line(trial.trial_id, result, self._stop_limits()))
        if self._run is None:
            self.on_step_begin(iteration, [])
        progress = self._run.report(trials, trial.trial_id, result)
        if len(trials) > 1:
            self._emit(run_line(*progress))

    def on_trial_error(self, iteration, trials, trial, **info):
        where = str(getattr(trial, "error_file", "") or "") or "its trial directory"
        self._emit(f"{short_name(trial.trial_id):<5} failed ({trial.trial_id}); see {where}", RED)
