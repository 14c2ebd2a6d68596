"""Evaluating trained policies: episodes, the drivers (policy and baselines), GIFs, statistics over seeds,
a trained run's settings for evaluate and export, Envision."""
