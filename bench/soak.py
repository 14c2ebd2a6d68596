"""Resident memory of every process of a training run against env steps: does anything grow?

    python bench/soak.py [--env-steps 1000000] [--run-dir DIR] [--interval 20]
                         [--reference-steps 100000] [train.py overrides ...]
    e.g. python bench/soak.py --env-steps 1000000 +experiment=loop_merge_pg agent=continuous

Trains with `train.py` (one trial) until `--env-steps` env steps and, every `--interval` seconds,
samples the resident memory (RSS) of each process of the run, by what it is: `driver` (train.py),
`trial` (the trial's algorithm actor), `env_runner` (each RLlib env runner), `sumo` (each SMARTS
traffic simulation), `ray` (Ray's own services and idle workers). The env steps of a sample are the
trial's latest reported `num_env_steps_sampled_lifetime` (result.json).

The run may be stopped and continued: `--run-dir` of an existing run resumes it (`train.py
resume=`, with `stop.timesteps_total` set to `--env-steps`), and the samples are appended to those
of the earlier sessions. The run directory gets train.py's output (`soak-session-<n>.log`), `soak.csv` (every sample: session, seconds, env
steps, class, pid, RSS in MB) and `soak.png` (RSS against env steps, one line per process).

Every sample also records the run directory's size on disk into `soak-disk.csv`, by part:
`checkpoints` (every `checkpoint_*` folder), `tensorboard` (event files), `results` (each trial's
`result.json` and `progress.csv`) and `other` (logs, Tune's experiment state, the config; the
soak's own files not counted).

The last line printed is one JSON object with, per class, the RSS (MB; of the largest process of
the class, e.g. the largest env runner) at `--reference-steps` and at the end, `ratio` (end over
reference), `slope_mb_per_1k_steps` (least-squares slope of the largest process's RSS over
the samples from the reference on), and `start_pss_mb`: each class's PSS per process (Ray's
summed) at the first sample while training, which smarts_rl/run/machine_fit.py's estimate of a
run's memory is taken from; and `disk`: the run directory's MB by part at the end, the growth
in MB per 1k env steps (least squares over the samples from the reference on) and, for a soak
stopped short of `--env-steps`, the size projected there. Target: ratio <= 1.10 for every env runner and the driver at
1M env steps with the reference at 100k; `pass` says whether the run reached both.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smarts_rl.run_dir.layout import holds_config, result_files  # noqa: E402

TARGET = 1.10
TARGET_CLASSES = ("driver", "env_runner")
CLASSES = ("driver", "trial", "env_runner", "sumo", "ray")
START_PSS = "soak-start-pss.json"  # each class's PSS at the first sample while training
FIELDS = ("session", "seconds", "env_steps", "process", "pid", "rss_mb")
DISK_PARTS = ("checkpoints", "tensorboard", "results", "other")
DISK_FIELDS = ("session", "seconds", "env_steps", *DISK_PARTS, "total")
RESULT_FILES = ("result.json", "progress.csv")
# Ray workers that are Ray's own, not the run's actors.
RAY_WORKERS = ("IDLE",)


def process_class(process: psutil.Process, driver_pid: int) -> str | None:
    """`driver`, `trial`, `env_runner`, `sumo` or `ray`, from the process's title: Ray titles its
    workers `ray::<actor class>.<method>` (`ray::PG.train`, `ray::MultiAgentRunner.sample`)."""
    if process.pid == driver_pid:
        return "driver"
    try:
        program = (process.cmdline() or [process.name()])[0]
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    if Path(program).name == "sumo":
        return "sumo"
    if not program.startswith("ray::"):
        return "ray"  # gcs_server, raylet, the dashboard, Ray's monitors
    actor = program.removeprefix("ray::").split(".")[0]
    if actor.endswith("Runner"):
        return "env_runner"
    if actor in RAY_WORKERS or actor.endswith("Agent"):  # idle workers, Ray's per-node agents
        return "ray"
    return "trial"


def sample(driver: psutil.Process) -> list[tuple[str, int, float]]:
    """(class, pid, RSS in MB) of the driver and every process descending from it (a local Ray
    starts its services, workers and, through them, `sumo` under the driver)."""
    rows = []
    try:
        processes = [driver, *driver.children(recursive=True)]
    except psutil.NoSuchProcess:
        return rows
    for process in processes:
        try:
            kind = process_class(process, driver.pid)
            rss = process.memory_info().rss / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if kind is not None and rss > 0:  # an exiting process reports no memory
            rows.append((kind, process.pid, round(rss, 1)))
    return rows


def pss_by_class(driver: psutil.Process) -> dict[str, float]:
    """PSS (MB; shared pages counted once, in shares) per process of each class, Ray's summed:
    the per-process figures smarts_rl/run/machine_fit.py estimates a run's memory from."""
    found: dict[str, list[float]] = {}
    for process in [driver, *driver.children(recursive=True)]:
        try:
            kind = process_class(process, driver.pid)
            pss = process.memory_full_info().pss / 2**20
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if kind is not None:
            found.setdefault(kind, []).append(pss)
    return {kind: round(sum(v) if kind == "ray" else sum(v) / len(v), 1) for kind, v in found.items()}


def disk_mb(run_dir: Path) -> dict[str, float]:
    """The run directory's size in MB by part (DISK_PARTS) and in all; the soak's own files
    (`soak*`) are the bench's, not the run's."""
    sizes = dict.fromkeys(DISK_PARTS, 0)
    for path in run_dir.rglob("*"):
        relative = path.relative_to(run_dir).parts
        if relative[0].startswith("soak"):
            continue
        try:
            if not path.is_file():
                continue
            size = path.stat().st_size
        except FileNotFoundError:  # a checkpoint Tune is deleting or a file being replaced
            continue
        if any(part.startswith("checkpoint_") for part in relative):
            sizes["checkpoints"] += size
        elif path.name.startswith("events.out.tfevents"):
            sizes["tensorboard"] += size
        elif path.name in RESULT_FILES:
            sizes["results"] += size
        else:
            sizes["other"] += size
    return {**{part: round(size / 2**20, 3) for part, size in sizes.items()},
            "total": round(sum(sizes.values()) / 2**20, 3)}


def env_steps(run_dir: Path) -> int | None:
    """The trial's latest reported env steps, from the last line of its result.json."""
    files = result_files(run_dir)
    if not files:
        return None
    last = _last_line(files[0])
    if not last:
        return None
    try:
        return int(json.loads(last).get("num_env_steps_sampled_lifetime") or 0)
    except json.JSONDecodeError:  # a line being written
        return None


def _last_line(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        block = min(size, 1 << 20)
        f.seek(size - block)
        lines = f.read().splitlines()
    return lines[-1].decode() if lines else ""


def train_command(run_dir: Path, target_steps: int, overrides: list[str]) -> list[str]:
    """train.py continuing `run_dir` if it holds a run, else starting one there."""
    stop = [f"stop.timesteps_total={target_steps}"]
    if holds_config(run_dir):
        return [sys.executable, str(REPO / "train.py"), f"resume={run_dir}", *stop]
    return [sys.executable, str(REPO / "train.py"), *overrides, f"hydra.run.dir={run_dir}",
            "stop.training_iteration=null", *stop]


def read_samples(csv_file: Path) -> list[dict]:
    if not csv_file.is_file():
        return []
    with open(csv_file, newline="") as f:
        return [{**row, "session": int(row["session"]), "seconds": float(row["seconds"]),
                 "env_steps": int(row["env_steps"]), "pid": int(row["pid"]), "rss_mb": float(row["rss_mb"])}
                for row in csv.DictReader(f) if float(row["rss_mb"]) > 0]


def soak(run_dir: Path, target_steps: int, overrides: list[str], interval: float) -> int:
    """Train while sampling into `run_dir`/soak.csv; train.py's exit code."""
    csv_file = run_dir / "soak.csv"
    earlier = read_samples(csv_file)
    session = max((row["session"] for row in earlier), default=0) + 1
    command = train_command(run_dir, target_steps, overrides)
    print(f"session {session}: {' '.join(command[1:])}", flush=True)
    log = open(run_dir / f"soak-session-{session}.log", "w")  # train.py's output
    start = time.monotonic()
    driver = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        process = psutil.Process(driver.pid)
        steps, next_print = 0, 0.0
        while driver.poll() is None:
            time.sleep(interval)
            steps = env_steps(run_dir) or steps
            rows = sample(process)
            training = 0 < steps < target_steps and any(kind == "env_runner" for kind, _, _ in rows)
            if not training:
                continue  # start-up and shutdown (summaries, Ray stopping) are not figures
            start_pss = run_dir / START_PSS
            if not start_pss.is_file():
                start_pss.write_text(json.dumps(pss_by_class(process)))
            seconds = round(time.monotonic() - start, 1)
            append_rows(csv_file, FIELDS, [(session, seconds, steps, kind, pid, rss) for kind, pid, rss in rows])
            sizes = disk_mb(run_dir)
            append_rows(run_dir / "soak-disk.csv", DISK_FIELDS,
                        [(session, seconds, steps, *(sizes[part] for part in (*DISK_PARTS, "total")))])
            if time.monotonic() >= next_print:
                largest = {kind: max(r for k, _, r in rows if k == kind) for kind in {k for k, _, _ in rows}}
                print(f"{steps:>9} env steps  " + "  ".join(f"{k} {largest[k]:.0f} MB" for k in CLASSES if k in largest),
                      flush=True)
                next_print = time.monotonic() + 300
    except BaseException:
        driver.terminate()
        driver.wait(timeout=120)
        raise
    finally:
        log.close()
    return driver.returncode


def append_rows(csv_file: Path, header: tuple, rows: list[tuple]) -> None:
    """Rows appended to `csv_file`, the header first if the file is new (samples of earlier
    sessions stay)."""
    new_file = not csv_file.is_file()
    with open(csv_file, "a", newline="") as f:
        writer = csv.writer(f)
        if new_file:
            writer.writerow(header)
        writer.writerows(rows)


def read_disk_samples(csv_file: Path) -> list[dict]:
    if not csv_file.is_file():
        return []
    with open(csv_file, newline="") as f:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(f)]


def disk_figures(samples: list[dict], reference_steps: int, target_steps: int) -> dict | None:
    """The run directory's size at the end, its growth per 1k env steps from the reference on,
    and the size projected at `target_steps` when the soak stopped before them."""
    if not samples:
        return None
    end = samples[-1]
    reference = next((row for row in samples if row["env_steps"] >= reference_steps), end)
    slope = slope_per_1k([(row["env_steps"], row["total"]) for row in samples
                          if row["env_steps"] >= reference["env_steps"]])
    projected = None
    if slope is not None and end["env_steps"] < target_steps:
        projected = round(end["total"] + slope * (target_steps - end["env_steps"]) / 1000, 1)
    return {"end_env_steps": int(end["env_steps"]), "mb_at_end": {part: end[part] for part in (*DISK_PARTS, "total")},
            "slope_mb_per_1k_steps": None if slope is None else round(slope, 4),
            "projected_mb_at_env_steps": projected}


def largest_by_sample(samples: list[dict], kind: str) -> list[tuple[int, float]]:
    """(env steps, RSS of the class's largest process) at each sample time."""
    by_time: dict[tuple, tuple[int, float]] = {}
    for row in samples:
        if row["process"] != kind:
            continue
        key = (row["session"], row["seconds"])
        steps, rss = by_time.get(key, (row["env_steps"], 0.0))
        by_time[key] = (steps, max(rss, row["rss_mb"]))
    return sorted(by_time.values())


def slope_per_1k(points: list[tuple[int, float]]) -> float | None:
    if len(points) < 2 or points[-1][0] == points[0][0]:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var * 1000


def figures(samples: list[dict], reference_steps: int) -> dict:
    """Per class: RSS at the reference and at the end, their ratio, and the slope from the reference on."""
    result = {}
    for kind in CLASSES:
        points = largest_by_sample(samples, kind)
        if not points:
            continue
        # The first sample at or after the reference (the last one if the run is shorter).
        reference = next((p for p in points if p[0] >= reference_steps), points[-1])
        after = [p for p in points if p[0] >= reference[0]]
        slope = slope_per_1k(after)
        end = points[-1]
        result[kind] = {
            "processes": len({row["pid"] for row in samples if row["process"] == kind}),
            "reference_env_steps": reference[0], "rss_mb_at_reference": reference[1],
            "end_env_steps": end[0], "rss_mb_at_end": end[1],
            "ratio": round(end[1] / reference[1], 3),
            "slope_mb_per_1k_steps": None if slope is None else round(slope, 3),
        }
    return result


def plot(samples: list[dict], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    colours = dict(zip(CLASSES, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:grey")))
    labelled = set()
    for pid in sorted({row["pid"] for row in samples}):
        rows = [row for row in samples if row["pid"] == pid]
        kind = rows[0]["process"]
        if kind == "ray":
            continue
        ax.plot([r["env_steps"] for r in rows], [r["rss_mb"] for r in rows], color=colours[kind],
                label=None if kind in labelled else kind, linewidth=1)
        labelled.add(kind)
    for session_start in sorted({min(r["env_steps"] for r in samples if r["session"] == s)
                                 for s in {r["session"] for r in samples}})[1:]:
        ax.axvline(session_start, color="black", linestyle=":", linewidth=0.8)  # a resume
    ax.set_xlabel("env steps")
    ax.set_ylabel("resident memory (MB)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-steps", type=int, default=1_000_000)
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="the run to train (continued if it exists); default: outputs/soak-<time>")
    parser.add_argument("--interval", type=float, default=20.0, help="seconds between samples")
    parser.add_argument("--reference-steps", type=int, default=100_000)
    args, overrides = parser.parse_known_args()
    run_dir = (args.run_dir or Path("outputs") / f"soak-{datetime.now():%Y-%m-%d-%H-%M-%S}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)

    start = time.monotonic()
    code = soak(run_dir, args.env_steps, overrides, args.interval)
    samples = read_samples(run_dir / "soak.csv")
    if samples:
        plot(samples, run_dir / "soak.png")
    result = figures(samples, args.reference_steps)
    reached = bool(samples) and max(r["env_steps"] for r in samples) >= args.env_steps
    print(json.dumps({
        "bench": "soak", "run_dir": str(run_dir), "overrides": overrides, "env_steps": args.env_steps,
        "train_exit_code": code, "sessions": max((r["session"] for r in samples), default=0),
        "reference_steps": args.reference_steps, "processes": result, "target": TARGET,
        "start_pss_mb": json.loads((run_dir / START_PSS).read_text()) if (run_dir / START_PSS).is_file() else None,
        "disk": disk_figures(read_disk_samples(run_dir / "soak-disk.csv"), args.reference_steps, args.env_steps),
        "pass": reached and all(kind in result and result[kind]["ratio"] <= TARGET for kind in TARGET_CLASSES),
        "csv": str(run_dir / "soak.csv"), "plot": str(run_dir / "soak.png"),
        "wall_s": round(time.monotonic() - start, 1),
    }))


if __name__ == "__main__":
    main()
