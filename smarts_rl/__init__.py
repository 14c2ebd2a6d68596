"""smarts-rl: Hydra-configured Ray RLlib training on the SMARTS driving simulator."""

__version__ = "0.1.0"


# The Python API: `smarts_rl.train(cfg, run_dir)`, `smarts_rl.resume(run_dir, changes)`, `smarts_rl.evaluate(run=...)`,
# `smarts_rl.export(...)`, `smarts_rl.report(...)`, `smarts_rl.check_env(...)`. Each command's module
# is also its function (smarts_rl/command_line.py), imported when first used: `import smarts_rl`
# loads no Ray, torch or SMARTS.
COMMANDS = ("evaluate", "export", "report", "check_env")


def __getattr__(name: str):
    if name in ("train", "resume"):
        from smarts_rl.run import start

        return getattr(start, name)
    if name in COMMANDS:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
