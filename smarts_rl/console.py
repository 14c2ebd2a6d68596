"""Console output for training: one short line per trial per iteration, no config dumps."""

from __future__ import annotations

from ray.tune import Callback

RETURN_KEY = ("env_runners", "episode_return_mean")
STEPS_KEY = ("env_runners", "num_env_steps_sampled_lifetime")
ITER_STEPS_KEY = ("env_runners", "num_env_steps_sampled")


def nested(result: dict, path: tuple, default=None):
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return default
        result = result[key]
    return result


def env_steps(result: dict) -> int:
    steps = nested(result, STEPS_KEY)
    if steps is None:
        steps = result.get("num_env_steps_sampled_lifetime", 0)
    return int(steps or 0)


def episode_return(result: dict) -> float | None:
    value = nested(result, RETURN_KEY)
    return None if value is None else float(value)


def _print_now(line: str) -> None:
    print(line, flush=True)  # also when stdout is a file or a pipe


class TrialLines(Callback):
    """Prints `trial  iter  env steps  return  steps/s` as results arrive, and remembers
    which trials completed or failed (Tune's own status after an interrupt is not final)."""

    def __init__(self, print_fn=None):
        self._print = print_fn or _print_now
        self.completed: set[str] = set()
        self.errored: dict[str, str] = {}
        self._header_printed = False

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if not self._header_printed:
            self._print(f"{'trial':<16} {'iter':>5} {'env steps':>10} {'return':>9} {'steps/s':>8}")
            self._header_printed = True
        ret = episode_return(result)
        seconds = result.get("time_this_iter_s") or 0.0
        iter_steps = nested(result, ITER_STEPS_KEY) or 0
        rate = iter_steps / seconds if seconds else 0.0
        ret_text = f"{ret:9.2f}" if ret is not None else f"{'-':>9}"
        self._print(
            f"{trial.trial_id:<16} {result.get('training_iteration', 0):>5} "
            f"{env_steps(result):>10} {ret_text} {rate:>8.1f}"
        )

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.completed.add(trial.trial_id)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.errored[trial.trial_id] = str(getattr(trial, "error_file", "") or "")
        self._print(f"{trial.trial_id:<16} failed; see {self.errored[trial.trial_id] or 'its trial directory'}")
