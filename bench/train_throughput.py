"""End-to-end training speed against plain SMARTS stepping, with 1 and 2 env runners.

    python bench/train_throughput.py [--scenario loop] [--agent laner] [--iterations 6]
                                     [--batch 2000] [--runners 1 2] [--envs-per-runner 1 2]
                                     [--settings grid|defaults] [--limit-seconds 60]
                                     [--alone-steps 1000] [--repeats 1] [--baseline GIT_REF]

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
  These processes run SMARTS as it ships (only the fixes of crashes, `apply_runtime_workarounds`);
  `patched_limit_steps_per_s` and `ratio_to_patched_limit` are the same with the speed patches our
  env runs with (`speed_up_simulation`), measured right beside it.
- `cpu_s_per_1k_steps`: CPU seconds (user + system) per 1,000 env steps of each process of the
  training, from the end of its first iteration to the end of its last (each iteration's end: when
  its progress.csv row appears), sampled about once a second (smarts_rl/bench_harness/process_cpu.py;
  a process that ends, such as a `sumo` SMARTS restarts, keeps its last sample): `driver` (train.py),
  `trial` (the Algorithm actor, `ray::PG`), `env_runner`, `sumo`, `python_child` (SMARTS's Python
  children: its map's junction check), each of Ray's own as `ray:<name>` (raylet, gcs_server,
  dashboard, agents, log monitor, idle workers) and `ray` their sum, `other:<name>`, and `total`;
  `each` gives every env runner, and the `sumo`s and Python children each started, on their own.
  `limit_cpu_s_per_1k_steps` and `patched_limit_cpu_s_per_1k_steps`: the same for the limit's
  processes over the seconds they step (`plain` for each plain SMARTS process, `bench` for this one).
Each runner count is trained with each `env_runners.num_envs_per_env_runner` (`--settings defaults`:
only conf/config.yaml's `env_runners`): stepping two simulations in turn lets RLlib batch its
per-step work (connectors, the RLModule's forward pass).
`profile` splits each setting's wall time per iteration (the median share over its iterations,
from PG's timers of the iteration alone, `timers/this_iter/*`, and `env_runners/smarts_seconds`)
into shares that sum to about 1:
`smarts` (a runner's time inside SMARTS's reset/step), `rllib_per_step` (a runner's connectors
and RLModule forward passes, per-step timers times its steps), `rest_of_sampling` (the rest of the
driver's wait for the runners: our env wrapper, the remote call, a runner waiting for the other
to finish its share), `learner` (the PG update), `weight_sync` and `driver_and_tune` (outside
the training step: Tune's bookkeeping, metrics, checkpoints).
`--baseline GIT_REF` trains each setting also with that commit's train.py (a temporary git worktree,
removed at the end, run with this venv's Python and that tree first on PYTHONPATH), right beside
this tree's, taking turns at going first: `baseline` holds its `train_steps_per_s`, `ratio_to_limit`,
`profile` and `cpu_s_per_1k_steps`, and `speedup_vs_baseline` = this tree's steps/s over its.
`--repeats N` measures each setting N times (the limits and trainings taking turns at going first
too): each setting's figures are the medians, and `repeats` lists each repeat's.
The target is on `ratio_to_limit` of the default setting (conf/config.yaml's `env_runners`), if
it was measured (`pass`); `pass_by_runners` says whether any setting of a runner count reaches it.
A bad argument is one line naming it, exit 2, before anything starts.
The last line printed is one JSON object.
"""

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smarts_rl.bench_harness import process_cpu  # noqa: E402
from smarts_rl.bench_harness.throughput import limit_with_cpu, time_raw  # noqa: E402
from smarts_rl.config import compose_config, group_options, settings  # noqa: E402
from smarts_rl.errors import exit_with  # noqa: E402
from smarts_rl.scenarios.build import build_scenario, scenario_source  # noqa: E402

PROGRAM = "train_throughput"
TARGET = 0.90
# RLlib's per-step work in an env runner, each timer the mean seconds per env step.
PER_STEP_TIMERS = ("env_to_module_connector/connector_pipeline_timer", "rlmodule_inference_timer",
                   "module_to_env_connector/connector_pipeline_timer")


PROGRESS_POLL_S = 0.25  # how soon an iteration's end is seen (its progress.csv row), for the CPU window


class Parser(argparse.ArgumentParser):
    """Argument errors as one line naming the argument, exit 2 (argparse's own adds the usage)."""

    def error(self, message: str):
        exit_with(message, PROGRAM)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The bench's arguments, all checked before anything starts; `baseline_commit` resolved."""
    parser = Parser(prog=PROGRAM, description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="loop")
    parser.add_argument("--agent", default="laner")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--runners", type=int, nargs="+")
    parser.add_argument("--envs-per-runner", type=int, nargs="+")
    parser.add_argument("--settings", choices=("grid", "defaults"), default="grid",
                        help="grid: each --runners with each --envs-per-runner; defaults: conf/config.yaml's env_runners only")
    parser.add_argument("--limit-seconds", type=float, default=60.0)
    parser.add_argument("--alone-steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--baseline", metavar="GIT_REF")
    args = parser.parse_args(argv)
    for name, least in (("iterations", 2), ("batch", 1), ("alone_steps", 1), ("repeats", 1)):
        if getattr(args, name) < least:
            parser.error(f"argument --{name.replace('_', '-')}: must be at least {least}, got {getattr(args, name)}")
    for name in ("runners", "envs_per_runner"):
        values = getattr(args, name)
        if values is not None and min(values) < 1:
            parser.error(f"argument --{name.replace('_', '-')}: each must be at least 1, got {min(values)}")
        if values is not None and args.settings == "defaults":
            parser.error(f"argument --{name.replace('_', '-')}: not with --settings defaults (conf/config.yaml's env_runners)")
    if not args.limit_seconds > 0:
        parser.error(f"argument --limit-seconds: must be above 0, got {args.limit_seconds}")
    options = group_options()
    for group in ("scenario", "agent"):
        if getattr(args, group) not in options[group]:
            parser.error(f"argument --{group}: unknown {group} {getattr(args, group)!r}; "
                         f"available: {', '.join(options[group])}")
    args.runners = args.runners or [1, 2]
    args.envs_per_runner = args.envs_per_runner or [1, 2]
    args.baseline_commit = None
    if args.baseline is not None:
        found = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{args.baseline}^{{commit}}"],
                               capture_output=True, text=True)
        if found.returncode != 0:
            parser.error(f"argument --baseline: {args.baseline!r} names no commit of {REPO}")
        args.baseline_commit = found.stdout.strip()
    return args


def find_progress(run_dir: Path) -> Path | None:
    """The run's one trial's progress.csv (searched for, so that a baseline's layout may differ)."""
    found = sorted(Path(run_dir).rglob("progress.csv"))
    if len(found) > 1:
        raise SystemExit(f"{PROGRAM}: expected one trial in {run_dir}, found {len(found)}")
    return found[0] if found else None


def read_rows(progress: Path | None) -> list[dict]:
    if progress is None or not progress.exists():
        return []
    with open(progress, newline="") as f:
        return list(csv.DictReader(f))


@contextlib.contextmanager
def baseline_tree(commit: str | None):
    """A temporary git worktree of `commit` (None: no baseline), removed at the end, on errors
    and Ctrl-C too."""
    if commit is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="train_throughput_baseline_"))
    tree = folder / "tree"
    try:
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), commit],
                       check=True, capture_output=True, text=True)
        yield tree
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def train(tree: Path, overrides: list[str], run_dir: Path) -> tuple[list[dict], dict]:
    """Train with `tree`'s train.py (this venv's Python; `tree`'s smarts_rl first on the path, for
    Ray's workers too) while sampling its process tree. Returns its progress rows and the CPU
    seconds per 1,000 env steps of its processes from the end of the first iteration to the end
    of the last (each iteration's end: when its progress.csv row appears)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    log = run_dir.with_suffix(".log")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    ends: list[float] = []  # when each iteration's row was first seen
    with open(log, "w") as out:
        # In `tree` as its working directory: Ray puts the driver's working directory first on its
        # workers' sys.path, where another checkout's smarts_rl would shadow `tree`'s.
        process = subprocess.Popen([sys.executable, str(tree / "train.py"), *overrides, f"hydra.run.dir={run_dir}"],
                                   stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tree)
        try:
            with process_cpu.TreeSampler(process.pid) as sampler:
                progress = None
                while process.poll() is None:
                    time.sleep(PROGRESS_POLL_S)
                    progress = progress or find_progress(run_dir)
                    rows = len(read_rows(progress))
                    if rows > len(ends):
                        moment = sampler.sample()
                        ends.extend([moment] * (rows - len(ends)))
                rows = len(read_rows(progress or find_progress(run_dir)))  # a last row written as it ended
                ends.extend([sampler.sample()] * (rows - len(ends)))
        finally:
            if process.poll() is None:  # Ctrl-C or an error here: end the training as Ctrl-C does
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
    if process.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise SystemExit(f"{PROGRAM}: {tree / 'train.py'} failed (exit {process.returncode}); the end of its output:\n{tail}")
    rows = read_rows(find_progress(run_dir))
    if len(rows) < 2 or len(ends) < len(rows):
        raise SystemExit(f"{PROGRAM}: {run_dir} has {len(rows)} iterations, too few to measure")
    steps = sum(int(float(r["env_runners/num_env_steps_sampled"])) for r in rows[1:])
    window = (ends[0], ends[len(rows) - 1])
    cpu = process_cpu.cpu_per_1k_steps(list(sampler.processes.values()), lambda _: window, steps)
    return rows[1:], cpu


def training_speed(rows: list[dict]) -> tuple[float, float | None, int]:
    """(env steps/s, seconds in SMARTS per second of training or None if the run does not log
    them, env steps) over `rows` (the iterations after the first)."""
    steps = sum(float(r["env_runners/num_env_steps_sampled"]) for r in rows)
    seconds = sum(float(r["time_this_iter_s"]) for r in rows)
    smarts = [r.get("env_runners/smarts_seconds") for r in rows]
    smarts_share = sum(float(s) for s in smarts) / seconds if all(smarts) else None
    return steps / seconds, smarts_share, int(float(rows[-1]["num_env_steps_sampled_lifetime"]))


def profile(rows: list[dict], runners: int) -> dict | None:
    """Shares of wall time per iteration (see the module docstring), medians over `rows`;
    None if the run does not log the timers they come from."""
    needed = ["env_runners/smarts_seconds", *(f"env_runners/{k}" for k in PER_STEP_TIMERS),
              *(f"timers/this_iter/{k}" for k in ("env_runner_sampling_timer", "learner_update_timer", "synch_weights"))]
    if not all(r.get(key) for r in rows for key in needed):
        return None

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


def median_of(measurements: list):
    """The median of each number over the repeats' measurements (dicts recursed into, keys that
    all have; anything else taken from the first)."""
    first = measurements[0]
    if isinstance(first, dict):
        keys = [k for k in first if all(isinstance(m, dict) and k in m for m in measurements)]
        return {k: median_of([m[k] for m in measurements]) for k in keys}
    if all(isinstance(m, (int, float)) and not isinstance(m, bool) for m in measurements):
        return round(statistics.median(measurements), 3)
    return first


def in_turn(items: list, repeat: int) -> list:
    """`items` in order on even repeats, reversed on odd ones: each meets the machine first in turn."""
    return items if repeat % 2 == 0 else items[::-1]


def measure(args, built, agent, seed: int, raw: float, runners: int, envs: int, repeat: int,
            baseline: Path | None, tmp: Path) -> dict:
    """One repeat of one setting: the limit as SMARTS ships and patched, then training with this
    tree and the baseline's."""
    limits = {}
    for patched in in_turn([False, True], repeat):
        limits[patched] = limit_with_cpu(built, agent, runners, seed, args.limit_seconds, patched=patched)
    overrides = [f"scenario={args.scenario}", f"agent={args.agent}",
                 f"env_runners.num_env_runners={runners}", f"env_runners.num_envs_per_env_runner={envs}",
                 f"algo.train_batch_size={args.batch}", f"stop.training_iteration={args.iterations}"]
    trees = {"current": REPO, **({"baseline": baseline} if baseline is not None else {})}
    trained = {}
    for name in in_turn(list(trees), repeat):
        trained[name] = train(trees[name], overrides, tmp / f"{name}_runners_{runners}_envs_{envs}_repeat_{repeat}")

    rows, cpu = trained["current"]
    steps_per_s, smarts_share, steps = training_speed(rows)
    limit, limit_cpu = limits[False]
    patched_limit, patched_limit_cpu = limits[True]
    result = {"train_steps_per_s": round(steps_per_s, 1), "env_steps": steps,
              "ratio_per_runner": round(smarts_share / runners, 3) if smarts_share is not None else None,
              "ratio_vs_alone_per_runner": round(steps_per_s / runners / raw, 3),
              "limit_steps_per_s": round(limit, 1), "patched_limit_steps_per_s": round(patched_limit, 1),
              "ratio_to_limit": round(steps_per_s / limit, 3),
              "ratio_to_patched_limit": round(steps_per_s / patched_limit, 3),
              "profile": profile(rows, runners), "cpu_s_per_1k_steps": cpu,
              "limit_cpu_s_per_1k_steps": limit_cpu, "patched_limit_cpu_s_per_1k_steps": patched_limit_cpu}
    if baseline is not None:
        baseline_rows, baseline_cpu = trained["baseline"]
        baseline_steps_per_s = training_speed(baseline_rows)[0]
        result["baseline"] = {"train_steps_per_s": round(baseline_steps_per_s, 1),
                              "ratio_to_limit": round(baseline_steps_per_s / limit, 3),
                              "profile": profile(baseline_rows, runners), "cpu_s_per_1k_steps": baseline_cpu}
        result["speedup_vs_baseline"] = round(steps_per_s / baseline_steps_per_s, 3)
    return result


def describe(runners: int, envs: int, r: dict) -> str:
    text = (f"{runners} env runner(s) x {envs} env(s): {r['train_steps_per_s']:.1f} env steps/s in training "
            f"(CPU {r['cpu_s_per_1k_steps']['total']:.1f} s per 1k steps); {runners} plain SMARTS side by side: "
            f"{r['limit_steps_per_s']:.1f}/s as it ships (CPU {r['limit_cpu_s_per_1k_steps']['total']:.1f} s per 1k), "
            f"{r['patched_limit_steps_per_s']:.1f}/s patched; ratio_to_limit {r['ratio_to_limit']:.2f}")
    if "baseline" in r:
        text += f"; baseline {r['baseline']['train_steps_per_s']:.1f}/s, speedup {r['speedup_vs_baseline']:.2f}"
    return text


def main() -> None:
    args = arguments()
    start = time.monotonic()
    # SIGTERM ends the bench as Ctrl-C does: the training is stopped and the baseline's tree removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    overrides = [f"scenario={args.scenario}", f"agent={args.agent}"]
    cfg = settings(compose_config(overrides))
    defaults = (cfg.env_runners.num_env_runners, cfg.env_runners.num_envs_per_env_runner)
    grid = [defaults] if args.settings == "defaults" else [(r, e) for r in args.runners for e in args.envs_per_runner]
    built = build_scenario(scenario_source(cfg.scenario, cwd=Path.cwd()))
    raw = max(time_raw(built, cfg.agent, 1, cfg.seed, args.alone_steps).steps_per_s for _ in range(2))
    print(f"plain SMARTS alone: {raw:.1f} env steps/s", flush=True)

    results = []
    with tempfile.TemporaryDirectory() as tmp, baseline_tree(args.baseline_commit) as baseline:
        for runners, envs in grid:
            repeats = []
            for repeat in range(args.repeats):
                repeats.append(measure(args, built, cfg.agent, cfg.seed, raw, runners, envs, repeat, baseline, Path(tmp)))
                print(describe(runners, envs, repeats[-1]), flush=True)
            results.append({"num_env_runners": runners, "num_envs_per_env_runner": envs,
                            **median_of(repeats), **({"repeats": repeats} if args.repeats > 1 else {})})
    passed = {
        runners: max(r["ratio_to_limit"] for r in results if r["num_env_runners"] == runners) >= TARGET
        for runners in sorted({r for r, _ in grid})
    }
    [default] = [r for r in results if (r["num_env_runners"], r["num_envs_per_env_runner"]) == defaults] or [None]
    print(json.dumps({
        "bench": "train_throughput", "scenario": args.scenario, "agent": args.agent,
        "raw_alone_steps_per_s": round(raw, 1), "limit_seconds": args.limit_seconds, "repeats": args.repeats,
        "baseline": {"ref": args.baseline, "commit": args.baseline_commit} if args.baseline else None,
        "results": results, "target": TARGET,
        "default": list(defaults), "pass_by_runners": passed,
        "pass": default is not None and default["ratio_to_limit"] >= TARGET,
        "wall_s": round(time.monotonic() - start, 1),
    }))


if __name__ == "__main__":
    main()
