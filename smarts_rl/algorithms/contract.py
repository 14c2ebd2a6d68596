"""What an `algo` option provides: the contract the core depends on, written once.

An option is a yaml file in a `conf/algo/` folder (ours, or one on `hydra.searchpath`) that names
its implementation with `_target_`, a dataclass subclassing `Algorithm`:

    # conf/algo/my_algo.yaml
    _target_: my_package.my_algo.Settings
    name: my_algo               # its label in summaries, curves and evaluations
    lr: 0.001

Its fields are the option's keys (a typo fails before Ray starts, naming the key); its
`__post_init__` checks their values (`smarts_rl.algorithms.checks`). The core then asks it for
RLlib's `AlgorithmConfig` and for what PBT, a search, warm start and the summary need. Nothing
here imports Ray, so that `--help` and bad input answer at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ray.rllib.algorithms import AlgorithmConfig

# The RLlib `model_config` keys of the default MLP module, and the fields that set them.
MLP_MODULE_KEYS = ("fcnet_hiddens", "fcnet_activation")


@dataclass
class Algorithm:
    """Base of every `algo` option's schema."""

    name: str = ""
    """The option's label in summaries, curves and evaluations (its yaml's `name`)."""

    def algorithm_config(self) -> AlgorithmConfig:
        """RLlib's config with this option's hyperparameters; the core adds the env, env runners,
        agents and resources. Its `algo_class` is the trainable Tune runs."""
        raise NotImplementedError(f"{type(self).__name__} must define algorithm_config()")

    def hyperparameters(self) -> list[str]:
        """The keys PBT, grid and searches may set per trial (RLlib `AlgorithmConfig` attribute
        names, so that a trial's config takes them by name), also shown per trial in summary.json.
        Several learning rates are fine (e.g. an actor's, a critic's). Default: every field."""
        return [f.name for f in dataclasses.fields(self) if f.name != "name"]

    def module_settings(self) -> dict[str, str]:
        """RLModule `model_config` key -> the `algo` key that sets it, for what the weights' shapes
        do not show: warm start refuses a checkpoint whose module differs in any of them."""
        fields = {f.name for f in dataclasses.fields(self)}
        return {key: key for key in MLP_MODULE_KEYS if key in fields}

    def register(self, config: AlgorithmConfig) -> None:
        """Make Tune find the trainable by its name (needed once after each `ray.init`, e.g. for a
        resumed experiment, which names its trainable)."""
        from ray import tune

        tune.register_trainable(config.algo_class.__name__, config.algo_class)
