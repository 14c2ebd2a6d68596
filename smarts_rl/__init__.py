"""smarts-rl: Hydra-configured Ray RLlib training on the SMARTS driving simulator."""

__version__ = "0.1.0"

from smarts_rl import old_module_names

old_module_names.install()
