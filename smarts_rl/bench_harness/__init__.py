"""Harnesses that measure smarts-rl rather than run it: `bench/` and `check_env` time SMARTS with
them. Nothing of training, evaluation or the env imports this package."""
