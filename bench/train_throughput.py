"""End-to-end training speed against plain SMARTS stepping, with 1 and 2 env runners.

    python bench/train_throughput.py [--scenario loop] [--agent laner] [--iterations 6]
                                     [--batch 2000] [--runners 1 2] [--envs-per-runner 1 2]
                                     [--limit-seconds 60] [--alone-steps 1000]

Trains `algo=pg` with `train.py` (a real run in a temporary directory) and reads the trial's
progress.csv, leaving out the first iteration (it includes starting SUMO):
- `train_steps_per_s`: env steps sampled per second of training time;
- `ratio_per_runner`: training steps/s per runner over plain SMARTS's steps/s on the same steps,
  measured as `check_env` measures it: SMARTS's own time inside the env (`env_runners/smarts_seconds`).
  It equals the share of each runner's training time spent inside SMARTS.
- `ratio_vs_alone_per_runner`: the same against plain SMARTS timed on its own before training
  (keep-lane, other episodes, another minute: this machine's speed drifts by 10-20%).
- `limit_steps_per_s`: the machine's limit for the setting, measured right before its training:
  as many plain SMARTS processes as it has env runners, each with its own `sumo`, stepping side by
  side for `--limit-seconds` on the same scenario and agent interface (keep-lane or random
  controls, resets included), their steps/s summed; `ratio_to_limit` = `train_steps_per_s` / that.
Each runner count is trained with each `env_runners.num_envs_per_env_runner`: stepping two
simulations in turn lets RLlib batch its per-step work (connectors, the RLModule's forward pass).
`profile` splits each setting's wall time per iteration (the median share over its iterations,
from PG's timers of the iteration alone, `timers/this_iter/*`, and `env_runners/smarts_seconds`)
into shares that sum to about 1:
`smarts` (a runner's time inside SMARTS's reset/step), `rllib_per_step` (a runner's connectors
and RLModule forward passes, per-step timers times its steps), `rest_of_sampling` (the rest of the
driver's wait for the runners: our env wrapper, the remote call, a runner waiting for the other
to finish its share), `learner` (the PG update), `weight_sync` and `driver_and_tune` (outside
the training step: Tune's bookkeeping, metrics, checkpoints).
The target is on `ratio_to_limit` of the default setting (conf/config.yaml's `env_runners`), if
it was measured (`pass`); `pass_by_runners` says whether any setting of a runner count reaches it.
The last line printed is one JSON object.
"""

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smarts_rl.config import compose_config, settings  # noqa: E402
from smarts_rl.scenarios.build import build_scenario, scenario_source  # noqa: E402
from smarts_rl.bench_harness.throughput import side_by_side_limit, time_raw  # noqa: E402
from smarts_rl.run_dir.layout import progress_files  # noqa: E402

TARGET = 0.90
# RLlib's per-step work in an env runner, each timer the mean seconds per env step.
PER_STEP_TIMERS = ("env_to_module_connector/connector_pipeline_timer", "rlmodule_inference_timer",
                   "module_to_env_connector/connector_pipeline_timer")


def iterations_after_the_first(run_dir: Path) -> list[dict]:
    """The run's one trial's progress.csv rows, but its first iteration's (it includes starting SUMO)."""
    [progress] = progress_files(run_dir)
    with open(progress, newline="") as f:
        return list(csv.DictReader(f))[1:]


def training_speed(run_dir: Path) -> tuple[float, float, int]:
    """(env steps/s, seconds in SMARTS per second of training, env steps) after the first iteration."""
    rows = iterations_after_the_first(run_dir)
    steps = sum(float(r["env_runners/num_env_steps_sampled"]) for r in rows)
    seconds = sum(float(r["time_this_iter_s"]) for r in rows)
    smarts_seconds = sum(float(r["env_runners/smarts_seconds"]) for r in rows)
    return steps / seconds, smarts_seconds / seconds, int(float(rows[-1]["num_env_steps_sampled_lifetime"]))


def profile(run_dir: Path, runners: int) -> dict:
    """Shares of wall time per iteration (see the module docstring), medians after the first iteration."""
    rows = iterations_after_the_first(run_dir)

    def median(values) -> float:
        return statistics.median(values)

    def col(key: str) -> list[float]:
        return [float(r[key]) for r in rows]

    per_step = [sum(float(r[f"env_runners/{k}"]) for k in PER_STEP_TIMERS) for r in rows]
    steps_per_runner = [s / runners for s in col("env_runners/num_env_steps_sampled")]
    # Each iteration's own seconds (PG logs them under timers/this_iter/), as shares of its wall time.
    walls = col("time_this_iter_s")
    sampling, learner, sync = (col(f"timers/this_iter/{k}") for k in
                               ("env_runner_sampling_timer", "learner_update_timer", "synch_weights"))
    smarts = [s / runners for s in col("env_runners/smarts_seconds")]
    rllib = [a * b for a, b in zip(per_step, steps_per_runner)]
    per_iteration = {
        "smarts": smarts,
        "rllib_per_step": rllib,
        "rest_of_sampling": [s - m - r for s, m, r in zip(sampling, smarts, rllib)],
        "learner": learner,
        "weight_sync": sync,
        "driver_and_tune": [w - s - l - y for w, s, l, y in zip(walls, sampling, learner, sync)],
    }
    return {name: round(median([v / w for v, w in zip(values, walls)]), 3) for name, values in per_iteration.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="loop")
    parser.add_argument("--agent", default="laner")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--runners", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--envs-per-runner", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--limit-seconds", type=float, default=60.0)
    parser.add_argument("--alone-steps", type=int, default=1000)
    args = parser.parse_args()
    start = time.monotonic()

    overrides = [f"scenario={args.scenario}", f"agent={args.agent}"]
    cfg = settings(compose_config(overrides))
    built = build_scenario(scenario_source(cfg.scenario, cwd=Path.cwd()))
    raw = max(time_raw(built, cfg.agent, 1, cfg.seed, args.alone_steps).steps_per_s for _ in range(2))
    print(f"plain SMARTS alone: {raw:.1f} env steps/s", flush=True)

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for runners in args.runners:
            for envs in args.envs_per_runner:
                limit = side_by_side_limit(built, cfg.agent, runners, cfg.seed, args.limit_seconds)
                run_dir = Path(tmp) / f"runners_{runners}_envs_{envs}"
                subprocess.run(
                    [sys.executable, str(REPO / "train.py"), *overrides,
                     f"env_runners.num_env_runners={runners}", f"env_runners.num_envs_per_env_runner={envs}",
                     f"algo.train_batch_size={args.batch}", f"stop.training_iteration={args.iterations}",
                     f"hydra.run.dir={run_dir}"],
                    check=True, capture_output=True, text=True,
                )
                steps_per_s, smarts_share, steps = training_speed(run_dir)
                ratio = smarts_share / runners
                ratio_vs_alone = steps_per_s / runners / raw
                print(f"{runners} env runner(s) x {envs} env(s): {steps_per_s:.1f} env steps/s in training, "
                      f"{ratio:.2f} of plain SMARTS per runner ({ratio_vs_alone:.2f} of SMARTS alone); "
                      f"{runners} plain SMARTS side by side: {limit:.1f}/s, {steps_per_s / limit:.2f} of that",
                      flush=True)
                results.append({"num_env_runners": runners, "num_envs_per_env_runner": envs,
                                "train_steps_per_s": round(steps_per_s, 1), "env_steps": steps,
                                "ratio_per_runner": round(ratio, 3),
                                "ratio_vs_alone_per_runner": round(ratio_vs_alone, 3),
                                "limit_steps_per_s": round(limit, 1),
                                "ratio_to_limit": round(steps_per_s / limit, 3),
                                "profile": profile(run_dir, runners)})
    passed = {
        runners: max(r["ratio_to_limit"] for r in results if r["num_env_runners"] == runners) >= TARGET
        for runners in args.runners
    }
    defaults = (cfg.env_runners.num_env_runners, cfg.env_runners.num_envs_per_env_runner)
    [default] = [r for r in results if (r["num_env_runners"], r["num_envs_per_env_runner"]) == defaults] or [None]
    print(json.dumps({
        "bench": "train_throughput", "scenario": args.scenario, "agent": args.agent,
        "raw_alone_steps_per_s": round(raw, 1), "limit_seconds": args.limit_seconds,
        "results": results, "target": TARGET,
        "default": list(defaults), "pass_by_runners": passed,
        "pass": default is not None and default["ratio_to_limit"] >= TARGET,
        "wall_s": round(time.monotonic() - start, 1),
    }))


if __name__ == "__main__":
    main()
