"""PG on a crashing CartPole: does fault tolerance cost the learning? (RLlib's old
cartpole-crashing regression, our own version.)

    python bench/pg_crashing.py --seeds 3 [--crash-rate 0.001] [--reset-crash-rate 0.0]
                                [--timesteps 100000] [--num-env-runners 0] [--set lr=...]

Each env step raises with probability `--crash-rate` (each reset with `--reset-crash-rate`),
like a simulator whose process dies. PG trains with the settings and budget of
`bench/pg_cartpole.py` plus `conf/config.yaml`'s fault-tolerance defaults, which drop the
broken episode and rebuild the env. Steps of dropped episodes count against the budget: they
were simulated. Per seed one line; last one JSON line: final returns (mean of the last 20
finished episodes), their median, crashes seen (failed steps and resets), env runner
restarts, and `pass`: the median reaches the CartPole target.
"""

import argparse
import itertools
import json
import logging
import os
import statistics
import sys
import warnings

import gymnasium as gym
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pg_cartpole import BENCH_SETTINGS, ENV, FINAL_EPISODES, parse_overrides, train_one_seed  # noqa: E402

from smarts_rl import fault_tolerance  # noqa: E402
from smarts_rl.config import FaultToleranceSettings  # noqa: E402

TARGET = 450.0
_instances = itertools.count()


class Crash(RuntimeError):
    pass


class CrashingCartPole(gym.Wrapper):
    """CartPole-v1 whose `step` raises with probability `crash_rate` and `reset` with
    `reset_crash_rate`; after a crash only a new env works (RLlib builds one)."""

    def __init__(self, config):
        super().__init__(gym.make(ENV))
        self._crash_rate = float(config.get("crash_rate", 0.0))
        self._reset_crash_rate = float(config.get("reset_crash_rate", 0.0))
        worker = int(getattr(config, "worker_index", 0) or 0)
        self._rng = np.random.default_rng([int(config.get("seed", 0)), worker, next(_instances)])
        self._crashed = False

    def reset(self, **kwargs):
        self._crash("reset", self._reset_crash_rate)
        return self.env.reset(**kwargs)

    def step(self, action):
        self._crash("step", self._crash_rate)
        return self.env.step(action)

    def _crash(self, what, rate):
        if self._crashed or self._rng.random() < rate:
            self._crashed = True
            raise Crash(f"CartPole crashed in {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--crash-rate", type=float, default=0.001, help="probability that an env step raises")
    parser.add_argument("--reset-crash-rate", type=float, default=0.0, help="probability that a reset raises")
    parser.add_argument("--num-env-runners", type=int, default=0,
                        help="0 samples in the driver process (as bench/pg_cartpole.py)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    # RLlib logs every crash with its traceback (and resets its loggers' levels); the counts
    # are in the results.
    for name in ("ray.rllib", "smarts_rl.run.fault_tolerance"):
        logging.getLogger(name).addFilter(lambda record: "crashed in" not in record.getMessage())
    warnings.filterwarnings("ignore", message=".*Overriding environment")  # each rebuilt env

    def configure(config):
        return fault_tolerance.apply(config, FaultToleranceSettings(), multi_agent=False)

    finals, walls, steps, step_crashes, reset_crashes, restarts = [], [], [], [], [], []
    for seed in range(args.seeds):
        env_config = {"crash_rate": args.crash_rate, "reset_crash_rate": args.reset_crash_rate, "seed": seed}
        final, n, wall, result = train_one_seed(
            "pg", seed, args.timesteps, overrides, args.num_env_runners,
            env=CrashingCartPole, env_config=env_config, configure=configure,
        )
        runners = result["env_runners"]
        finals.append(round(float(final), 1))
        walls.append(round(wall, 1))
        steps.append(n)
        step_crashes.append(int(runners.get("num_env_step_failures", 0)))
        reset_crashes.append(int(runners.get(fault_tolerance.NUM_ENV_RESET_FAILURES, 0)))
        restarts.append(int(result.get("fault_tolerance", {}).get("num_remote_worker_restarts", 0)))
        print(f"seed {seed}: final return {final:.1f} (last {FINAL_EPISODES} episodes, {n} env steps, "
              f"{step_crashes[-1]} step and {reset_crashes[-1]} reset crashes, {wall:.0f} s)", flush=True)

    median = float(statistics.median(finals))
    print(json.dumps({
        "algo": "pg",
        "env": f"{ENV} crashing",
        "crash_rate": args.crash_rate,
        "reset_crash_rate": args.reset_crash_rate,
        "timesteps": args.timesteps,
        "seeds": list(range(args.seeds)),
        "final_returns": finals,
        "median_final_return": median,
        "target": TARGET,
        "pass": bool(median >= TARGET),
        "step_crashes": step_crashes,
        "reset_crashes": reset_crashes,
        "env_runner_restarts": restarts,
        "env_steps": steps,
        "wall_time_s": walls,
        "settings": {**BENCH_SETTINGS["pg"], **overrides},
    }))


if __name__ == "__main__":
    main()
