"""What smarts-rl works around in Hydra 1.3.2's internals."""

from __future__ import annotations

from typing import Callable


def as_main_task(task: Callable) -> Callable:
    """`task`, seen by `hydra.main(config_path=None)` as `__main__`'s function, so that no
    directory is added to the config search path (as Hydra documents for `config_path=None`).

    For a task of any other module, Hydra 1.3.2 adds that module's package instead
    (`hydra._internal.utils.compute_search_path_dir`, from `detect_calling_file_or_module_from_task_function`):
    smarts_rl's packages `run/` and `agents/` would then pass for the config groups of evaluate's
    keys `run` and `agents.count`."""
    task.__module__ = "__main__"
    return task
