"""SMARTS's own share of sampling, logged by every env runner as `env_runners/smarts_seconds`.

Each training result then holds the seconds the env runners spent inside SMARTS's reset/step calls
during the iteration (summed over runners). `smarts_seconds / (num_env_runners * time_this_iter_s)`
is how close training comes to stepping plain SMARTS on the same steps (1.0 = no framework cost):
`bench/train_throughput.py` reports it.
"""

from __future__ import annotations

from ray.rllib.callbacks.callbacks import RLlibCallback

METRIC = "smarts_seconds"


class SimulatorTime(RLlibCallback):
    def on_sample_end(self, *, env_runner=None, metrics_logger=None, **kwargs) -> None:
        if env_runner is None or metrics_logger is None:
            return
        seconds = 0.0
        for env in env_runner.env.envs:
            smarts_env = env.unwrapped
            seconds += smarts_env.simulator_seconds
            smarts_env.simulator_seconds = 0.0
        metrics_logger.log_value(METRIC, seconds, reduce="sum")
