"""A run directory: what a training run leaves behind (config, checkpoints, results, summary, curves)."""
