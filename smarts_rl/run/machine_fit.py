"""What a run asks of this machine, estimated before a local Ray starts, and the requests refused
because the machine cannot meet them: memory beyond the machine's, or so many processes that each
gets less than `MIN_CPU_SHARE` of a CPU.

Memory is estimated from each kind of process's resident memory at the start of a run (PSS, which
counts shared libraries once), measured on loop at the start of a default run, as `bench/soak.py`
reports them (`start_pss_mb`). Env runners grow as they sample (docs/runs.md#memory-over-long-runs),
so a run that fits only just may still run out later; the check refuses what cannot even start.

CPU: every trial running at once and each of its env runners is a process that wants a whole CPU
while it computes. A simulation waits for its `sumo` and the trial waits for its env runners, so
some oversubscription pays (Ray's fractional CPUs allow it); far below a share of 1/8 Ray starts
dozens of workers that mostly wait for a CPU and nothing trains in a useful time.

A cluster (`ray.address`) is not checked here: its nodes may come and go (autoscaling), so a run
there waits for what it needs, saying so every minute (smarts_rl/run/resource_wait.py).
"""

from __future__ import annotations

import os

from smarts_rl.errors import UsageError

# PSS at the start of a run, in GB (as bench/soak.py's `start_pss_mb` on loop, rounded up).
DRIVER_AND_RAY_GB = 0.8  # train.py (0.37) and Ray's own processes: gcs, raylet, agents (0.38)
TRIAL_GB = 0.42  # a trial's process: the algorithm and its learner
ENV_RUNNER_GB = 0.42  # an env runner's process without its simulations
SIMULATION_GB = 0.07  # each simulation an env runner steps (SMARTS's share and its sumo)
FIRST_SIMULATION_GB = 0.06  # what the first simulation of a process loads once (SMARTS, its maps)
# The least CPU share per process of the run: at most 8 busy processes per CPU.
MIN_CPU_SHARE = 0.125


def machine_memory_gb() -> float:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30


def memory_needed_gb(runners: int, envs_per_runner: int, trials: int) -> float:
    """Memory at the start of a run of `trials` at once, each with `runners` env runners of
    `envs_per_runner` simulations (0 runners: the trial's own process simulates)."""
    sampling = FIRST_SIMULATION_GB + envs_per_runner * SIMULATION_GB
    per_trial = TRIAL_GB + (runners * (ENV_RUNNER_GB + sampling) if runners else sampling)
    return DRIVER_AND_RAY_GB + trials * per_trial


def processes_per_run(runners: int, trials: int) -> int:
    return trials * (1 + runners)


def check_machine_fits(cfg, cpus: float, memory_gb: float | None = None) -> None:
    """Refuse (UsageError) a local run whose processes would each get less than `MIN_CPU_SHARE`
    of the `cpus` Ray is given, or whose estimated memory exceeds this machine's."""
    runners, envs = cfg.env_runners.num_env_runners, cfg.env_runners.num_envs_per_env_runner
    trials = cfg.scheduler.concurrent_trials()
    asked = f"env_runners.num_env_runners={runners}" + (f" with {trials} trials at once" if trials > 1 else "")
    lower = "lower env_runners.num_env_runners" + (" or the trials run at once" if trials > 1 else "")

    processes = processes_per_run(runners, trials)
    share = cpus / processes
    if share < MIN_CPU_SHARE:
        raise UsageError(
            f"{asked}: {processes} processes (trials and env runners) would share {cpus:g} CPUs, "
            f"{share:.3f} CPU each, below the floor of {MIN_CPU_SHARE:g} "
            f"(at most {int(cpus / MIN_CPU_SHARE)} processes here): {lower}"
        )

    memory_gb = machine_memory_gb() if memory_gb is None else memory_gb
    needed = memory_needed_gb(runners, envs, trials)
    if needed > memory_gb:
        raise UsageError(
            f"{asked} (x {envs} simulations each): the run needs about {needed:.1f} GB of memory "
            f"at its start, this machine has {memory_gb:.1f} GB: {lower} or "
            "env_runners.num_envs_per_env_runner, or use a Ray cluster (ray.address)"
        )
