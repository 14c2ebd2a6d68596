"""Where a run's processes go: CPUs per trial and env runner, and what a Ray cluster's nodes need.

A local Ray is sized to this machine (or `ray.num_cpus`); on a cluster (`ray.address`) the run
uses the cluster's CPUs (at most `ray.num_cpus`). Either way every trial of the run gets an equal
share, so a whole PBT population runs at once; `env_runners.num_cpus_per_env_runner` reserves a
fixed amount per env runner (and per trial process) instead, and a request that cannot fit is
refused before training.

Worker nodes of a cluster need not share the driver's disk: `runtime_env` ships this package and
the built scenario folders with the job, and `SmartsEnv` loads the shipped scenario
(`smarts_rl.env.smarts_env.locate_scenario`). Tune's run directory is another matter: it must be on
storage every node can write (`check_run_dir_shared`).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from smarts_rl.errors import UsageError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # smarts_rl/, shipped whole to cluster nodes
# Not shipped: Python caches and lock files. (A ".*" pattern would match the module folder itself.)
SHIPPED_EXCLUDES = ["__pycache__", "*.pyc", "*.lock"]
# Ray's smallest resource unit is 1e-4; compare sums with some slack.
_SLACK = 1e-6


def runtime_env(scenario_dirs: list[Path]) -> dict:
    """The job's runtime_env on a cluster: every worker runs in a copy of the first built scenario
    (`working_dir`) and imports this package from a copy (`py_modules`); the other scenarios of a
    set come as py_modules too (folders named as their builds, see `locate_scenario`).

    A working_dir also keeps Ray from putting the driver's script folder and cwd first on the
    workers' sys.path, where a checkout of this project would shadow the shipped package."""
    first, *others = [str(Path(d).resolve()) for d in scenario_dirs]
    return {
        "working_dir": first,
        "py_modules": [str(PACKAGE_DIR), *others],
        "excludes": SHIPPED_EXCLUDES,
    }


def process_cpus(cfg, cpus_per_trial: float, largest_node_cpus: float | None = None) -> tuple[float, float]:
    """(CPUs of a trial's own process, CPUs of each of its env runners).

    `env_runners.num_cpus_per_env_runner` if set (the trial's own process gets as much: it
    learns while they sample); else an even share of the trial's CPUs, at most one node's."""
    runners = cfg.env_runners.num_env_runners
    per_runner = cfg.env_runners.num_cpus_per_env_runner
    if per_runner is not None and runners > 0:
        return per_runner, per_runner
    share = cpus_per_trial / (1 + runners)
    if largest_node_cpus:
        share = min(share, largest_node_cpus)
    return share, share


def check_fit(cfg, cpus: float, trials: int, largest_node_cpus: float | None = None) -> None:
    """Refuse (UsageError) a run whose trials and env runners cannot all be placed at once:
    only possible with `env_runners.num_cpus_per_env_runner` set."""
    per_runner = cfg.env_runners.num_cpus_per_env_runner
    runners = cfg.env_runners.num_env_runners
    if per_runner is None or runners == 0:
        return
    where = f"the cluster's {cpus:g} CPUs" if cfg.ray.address else f"Ray's {cpus:g} CPUs"
    if cfg.ray.num_cpus is not None:
        where += " (ray.num_cpus)"
    needed = trials * (1 + runners) * per_runner
    if needed > cpus + _SLACK:
        raise UsageError(
            f"{trials} trial(s) x (1 + {runners} env runners) x {per_runner:g} CPU = {needed:g} CPUs "
            f"do not fit in {where}: lower env_runners.num_cpus_per_env_runner or "
            "env_runners.num_env_runners (or set num_cpus_per_env_runner=null to share the CPUs)"
        )
    if largest_node_cpus is not None and per_runner > largest_node_cpus + _SLACK:
        raise UsageError(
            f"env_runners.num_cpus_per_env_runner={per_runner:g}: the largest node of the cluster has "
            f"{largest_node_cpus:g} CPUs"
        )


def run_cpus(cfg, cluster_cpus: float) -> float:
    """The CPUs this run shares among its trials, given what the connected Ray has."""
    if cfg.ray.address and cfg.ray.num_cpus is not None:
        if cfg.ray.num_cpus > cluster_cpus + _SLACK:
            raise UsageError(
                f"ray.num_cpus={cfg.ray.num_cpus}: the cluster at {cfg.ray.address} has only {cluster_cpus:g} CPUs"
            )
        return float(cfg.ray.num_cpus)
    return cluster_cpus


def largest_node_cpus() -> float:
    import ray

    return max((n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n.get("Alive")), default=0.0)


def check_dashboard_installed() -> None:
    from smarts_rl.upstream.ray import dashboard_dependency_error

    missing = dashboard_dependency_error()
    if missing is not None:
        raise UsageError(
            f"ray.dashboard=true needs Ray's dashboard packages ({missing}): "
            "pip install 'ray[default]==2.60.0', or leave ray.dashboard=false"
        )


def check_run_dir_shared(run_dir: Path) -> None:
    """On a cluster, every node with CPUs must see the run directory: Tune's trials write their
    results and checkpoints there from whichever node they run on."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = Path(run_dir) / f".node_probe-{uuid.uuid4().hex}"
    probe.write_text("")
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive") and n["Resources"].get("CPU", 0) > 0]
        sees = ray.remote(num_cpus=0)(os.path.isfile)
        answers = ray.get([
            sees.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(str(probe))
            for n in nodes
        ])
    finally:
        probe.unlink(missing_ok=True)
    blind = [n["NodeManagerAddress"] for n, seen in zip(nodes, answers) if not seen]
    if blind:
        raise UsageError(
            f"the run directory {run_dir} is not visible on node(s) {', '.join(blind)}: on a multi-machine "
            "cluster put it on storage every node shares (e.g. hydra.run.dir=/mnt/nfs/runs/<name>)"
        )
