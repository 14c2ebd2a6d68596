"""`init_from`'s part inside each trial: loading the checkpoint's modules into a freshly built
Algorithm (smarts_rl/run/warm_start.py plans it before Ray starts)."""

from __future__ import annotations

from pathlib import Path

from smarts_rl.run_dir.layout import MODULES_IN_CHECKPOINT


def load_modules_into(algorithm, checkpoint: str, sources: dict, **kwargs) -> None:
    """Each learner module's state from the checkpoint's module `sources[module id]` (the optimizer
    stays fresh), then the same weights into every env runner's module."""
    modules = Path(checkpoint) / MODULES_IN_CHECKPOINT
    for target, source in sources.items():
        algorithm.learner_group.restore_from_path(modules / source, component=f"learner/rl_module/{target}")
    # Not `sync_weights`: it sends asynchronously, and RLlib drops the request while the setup's
    # own sync of the fresh weights is still in flight (max_requests_in_flight_per_env_runner=1),
    # so the first iteration would sample with the fresh policy. This waits for every env runner.
    weights = algorithm.learner_group.get_state(
        components=[f"learner/rl_module/{target}" for target in sources], inference_only=True
    )["learner"]["rl_module"]
    algorithm.env_runner_group.foreach_env_runner(lambda runner: runner.set_state({"rl_module": weights}))
