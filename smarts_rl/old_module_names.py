"""Module names from before the package was laid out as the pipeline (December 2026).

Run directories made before then hold pickles (Tune's experiment state, trial callbacks and
stoppers) that name our classes by their old modules, such as `smarts_rl.fault_tolerance`.
`resume=` and `evaluate` of such a run still work: each old name imports its new module.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    f"smarts_rl.{old}": f"smarts_rl.{new}"
    for old, new in {
        "scenario_set": "scenarios.sets",
        "driving_metrics": "env.driving_metrics",
        "simulator_time": "env.simulator_time",
        "throughput": "env.throughput",
        "training": "run.job",
        "workarounds": "upstream.smarts",
        "rllib_setup": "run.rllib_setup",
        "fault_tolerance": "run.fault_tolerance",
        "resume": "run.resume",
        "resumed_settings": "run.resumed_settings",
        "warm_start": "run.warm_start",
        "cluster": "run.cluster",
        "console": "run.console",
        "stopping": "run.stopping",
        "sweep": "run.sweep",
        "summary": "run_dir.summary",
        "curves": "run_dir.curves",
        "trial_results": "run_dir.trial_results",
        "trained_run": "run_dir.trained_run",
        "atomic_file": "run_dir.atomic_file",
        "episodes": "evaluation.episodes",
        "policies": "evaluation.policies",
        "rollout_gif": "evaluation.rollout_gif",
        "seed_statistics": "evaluation.seed_statistics",
        # Since the uses of RLlib's internals have one home (smarts_rl/upstream/).
        "algorithms.lr_from_config": "upstream.rllib",
        # The agent's files in one folder, which export ships as it is.
        "env.observation": "agents.observation",
        "policy_network": "agents.policy_network",
    }.items()
}


class _OldName(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module name as the module now living under its new name."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass  # already executed under its new name


def install() -> None:
    """Let the old names import (once per process; `smarts_rl/__init__.py` calls it)."""
    if not any(isinstance(finder, _OldName) for finder in sys.meta_path):
        sys.meta_path.append(_OldName())
