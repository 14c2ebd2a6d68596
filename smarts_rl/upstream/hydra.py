"""What smarts-rl works around in Hydra 1.3.2's internals."""

from __future__ import annotations

# Hydra 1.3.2's basic sweeper, by the name its config gives (hydra/conf/hydra/sweeper/basic.yaml).
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def basic_sweep_jobs(overrides: list[str], config_dir: str | None) -> list[list[str]]:
    """Every job of a multirun as Hydra's basic sweeper lists them (choice, range and glob
    sweeps; glob needs the config groups, hence a config loader on `config_dir`). Raises
    HydraException for a sweep it cannot list (e.g. `interval()`, which a sweeper plugin draws from).

    Uses `BasicSweeper.split_arguments` (hydra/_internal/core_plugins/basic_sweeper.py) and
    `ConfigLoaderImpl` with `create_config_search_path` (hydra/_internal/utils.py): Hydra has no
    public way to list a sweep's jobs before it launches them."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra._internal.utils import create_config_search_path
    from hydra.core.override_parser.overrides_parser import OverridesParser

    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(config_dir))
    parsed = OverridesParser.create(config_loader=loader).parse_overrides(list(overrides))
    [jobs] = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    return [list(job) for job in jobs]


def is_basic_sweeper(cfg) -> bool:
    """Whether a composed config (with its `hydra` node) runs its multirun with the basic sweeper."""
    return cfg.hydra.sweeper.get("_target_") == BASIC_SWEEPER
