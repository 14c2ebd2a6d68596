"""Evaluating trained policies: episodes, the drivers (policy and baselines), GIFs, statistics over seeds."""
