"""CartPole-v1 benchmark: train PG (or RLlib's PPO) once per seed, report final returns.

    python bench/pg_cartpole.py --seeds 3 --timesteps 100000 [--algo pg|ppo]
                                [--set lr=0.002 --set train_batch_size=1000 ...]

Per seed it prints one line; last comes one JSON line with the summary. The
"final return" is the mean return of the last 20 training episodes, once at
least `--timesteps` env steps were sampled. (Not RLlib's `episode_return_mean`:
in RLlib 2.60 that is the mean over the last iteration's episodes only, e.g.
2 of them at 1000 steps per batch, whatever `metrics_num_episodes_for_smoothing` says.) `--set` overrides a field of the algorithm's Settings on top of the
bench values below (values are parsed as YAML, so `--set lr=[[0,0.003],[1e5,0.0005]]` works).
"""

import argparse
import collections
import importlib
import json
import os
import statistics
import sys
import time

import yaml
from ray.rllib.callbacks.callbacks import RLlibCallback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ENV = "CartPole-v1"
FINAL_EPISODES = 20

# CartPole settings on top of conf/algo/<algo>.yaml's defaults. 100k steps buy
# only 25 updates at the driving default of 4000 steps per batch; CartPole's
# low-noise returns allow smaller batches and so 100 policy steps, at a higher
# lr that decays so the policy settles at 500 instead of oscillating around it.
BENCH_SETTINGS = {
    "pg": {"train_batch_size": 1000, "lr": [[0, 0.003], [100_000, 0.0005]]},
    "ppo": {},  # RLlib's PPO defaults, untouched, for an honest comparison.
}


class EpisodeReturns(RLlibCallback):
    """Reports every finished episode's return (result["env_runners"]["episode_returns"])."""

    def on_episode_end(self, *, episode, metrics_logger, **kwargs):
        metrics_logger.log_value("episode_returns", episode.get_return(), reduce="item_series")


def parse_overrides(pairs):
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        overrides[key] = yaml.safe_load(value)
    return overrides


def train_one_seed(algo_name, seed, timesteps, overrides, num_env_runners, env=ENV, env_config=None,
                   configure=None):
    """Trains until `timesteps` env steps are sampled. `configure(config)` may add to the RLlib
    config. Returns (final return, env steps sampled, wall seconds, the last training result)."""
    import ray

    module = importlib.import_module(f"smarts_rl.algorithms.{algo_name}")
    settings = module.Settings(**{**BENCH_SETTINGS[algo_name], **overrides})
    config = (
        settings.algorithm_config()
        .environment(env, env_config=env_config or {})
        .env_runners(num_env_runners=num_env_runners)
        .callbacks(EpisodeReturns)
        .debugging(seed=seed)
    )
    if configure is not None:
        config = configure(config)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        algo = config.build_algo()
        start = time.time()
        steps, last_returns = 0, collections.deque(maxlen=FINAL_EPISODES)
        while steps < timesteps:
            result = algo.train()
            steps = result["env_runners"]["num_env_steps_sampled_lifetime"]
            last_returns.extend(result["env_runners"].get("episode_returns", []))
        wall = time.time() - start
        final_return = statistics.mean(last_returns)
        algo.stop()
    finally:
        ray.shutdown()
    return final_return, int(steps), wall, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", choices=sorted(BENCH_SETTINGS), default="pg")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--num-env-runners", type=int, default=0,
                        help="0 samples in the driver process (fastest on 2 cores)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = parser.parse_args()
    overrides = parse_overrides(args.set)

    finals, walls, steps = [], [], []
    for seed in range(args.seeds):
        final, n, wall, _ = train_one_seed(
            args.algo, seed, args.timesteps, overrides, args.num_env_runners
        )
        final = round(final, 1)
        finals.append(final)
        walls.append(round(wall, 1))
        steps.append(n)
        print(f"seed {seed}: final return {final:.1f} "
              f"(last {FINAL_EPISODES} episodes, {n} env steps, {wall:.0f} s)", flush=True)

    print(json.dumps({
        "algo": args.algo,
        "env": ENV,
        "timesteps": args.timesteps,
        "final_returns": finals,
        "median_final_return": statistics.median(finals),
        "env_steps": steps,
        "wall_time_s": walls,
        "settings": {**BENCH_SETTINGS[args.algo], **overrides},
    }))


if __name__ == "__main__":
    main()
