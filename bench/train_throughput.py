"""End-to-end training speed against plain SMARTS stepping, with 1 and 2 env runners.

    python bench/train_throughput.py [--scenario loop] [--agent laner] [--iterations 6]
                                     [--batch 2000] [--runners 1 2]

Trains `algo=pg` with `train.py` (a real run in a temporary directory) and reads the trial's
progress.csv: env steps sampled per second of training time, leaving out the first iteration
(it includes starting SUMO). Plain SMARTS is timed as `check_env` times it (best of 2 runs).
`ratio_per_runner` = training steps/s / runners / plain steps/s. Target: >= 0.90.
The last line printed is one JSON object.
"""

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smarts_rl.config import compose_config, settings  # noqa: E402
from smarts_rl.scenarios import build_scenario, scenario_source  # noqa: E402
from smarts_rl.throughput import time_raw  # noqa: E402

TARGET = 0.90


def training_steps_per_s(run_dir: Path) -> tuple[float, int]:
    [progress] = run_dir.glob("tune/trial_*/progress.csv")
    with open(progress, newline="") as f:
        rows = list(csv.DictReader(f))
    first, last = rows[0], rows[-1]
    steps = float(last["num_env_steps_sampled_lifetime"]) - float(first["num_env_steps_sampled_lifetime"])
    seconds = float(last["time_total_s"]) - float(first["time_total_s"])
    return steps / seconds, int(float(last["num_env_steps_sampled_lifetime"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="loop")
    parser.add_argument("--agent", default="laner")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--runners", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    start = time.monotonic()

    overrides = [f"scenario={args.scenario}", f"agent={args.agent}"]
    cfg = settings(compose_config(overrides))
    built = build_scenario(scenario_source(cfg.scenario, cwd=Path.cwd()))
    raw = max(time_raw(built, cfg.agent, 1, cfg.seed, 1000).steps_per_s for _ in range(2))
    print(f"plain SMARTS: {raw:.1f} env steps/s", flush=True)

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for runners in args.runners:
            run_dir = Path(tmp) / f"runners_{runners}"
            subprocess.run(
                [sys.executable, str(REPO / "train.py"), *overrides,
                 f"env_runners.num_env_runners={runners}", f"algo.train_batch_size={args.batch}",
                 f"stop.training_iteration={args.iterations}", f"hydra.run.dir={run_dir}"],
                check=True, capture_output=True, text=True,
            )
            steps_per_s, steps = training_steps_per_s(run_dir)
            ratio = steps_per_s / runners / raw
            print(f"{runners} env runner(s): {steps_per_s:.1f} env steps/s in training, "
                  f"{ratio:.2f} of plain SMARTS per runner", flush=True)
            results.append({"num_env_runners": runners, "train_steps_per_s": round(steps_per_s, 1),
                            "env_steps": steps, "ratio_per_runner": round(ratio, 3)})
    print(json.dumps({
        "bench": "train_throughput", "scenario": args.scenario, "agent": args.agent,
        "raw_steps_per_s": round(raw, 1), "results": results, "target": TARGET,
        "pass": all(r["ratio_per_runner"] >= TARGET for r in results),
        "wall_s": round(time.monotonic() - start, 1),
    }))


if __name__ == "__main__":
    main()
