"""smarts-rl: Hydra-configured Ray RLlib training on the SMARTS driving simulator."""

__version__ = "0.1.0"
