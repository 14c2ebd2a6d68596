"""smarts-rl: Hydra-configured Ray RLlib training on the SMARTS driving simulator."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # The Python API, loaded when asked for: `import smarts_rl` stays quick.
    if name == "train":
        from smarts_rl.run.start import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
