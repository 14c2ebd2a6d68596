"""conf/algo/*.yaml <-> Settings <-> RLlib AlgorithmConfig, and bad-input errors."""

import dataclasses
import pathlib

import pytest
from omegaconf import OmegaConf

from smarts_rl.algorithms import pg, ppo

CONF = pathlib.Path(__file__).resolve().parents[1] / "conf" / "algo"
ALGOS = {"pg": pg, "ppo": ppo}
# Settings fields that are not AlgorithmConfig attributes.
NOT_CONFIG_ATTRIBUTES = {"name", "fcnet_hiddens", "fcnet_activation", "log_std_init", "log_std_max",
                         "normalize_observations"}  # model_config keys


def algo_yaml(name):
    """The yaml's own fields, without the `_target_` that names its implementation."""
    cfg = OmegaConf.load(CONF / f"{name}.yaml")
    assert cfg.pop("_target_") == f"{ALGOS[name].__name__}.Settings"
    return cfg


def from_yaml(name, **overrides):
    """What the driver does: yaml (+ command-line overrides) -> Settings."""
    merged = OmegaConf.merge(algo_yaml(name), overrides)
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ALGOS[name].Settings), merged))


@pytest.mark.parametrize("name", ALGOS)
def test_yaml_has_exactly_the_settings_fields_with_their_defaults(name):
    module = ALGOS[name]
    assert list(algo_yaml(name).keys()) == [f.name for f in dataclasses.fields(module.Settings)]
    assert from_yaml(name) == module.Settings()


@pytest.mark.parametrize("name", ALGOS)
def test_every_yaml_field_has_a_comment(name):
    lines = (CONF / f"{name}.yaml").read_text().splitlines()
    fields = [line for line in lines if line and not line.startswith("#")]
    assert fields and all("#" in line and line.split("#", 1)[1].strip() for line in fields)


@pytest.mark.parametrize("name", ALGOS)
def test_settings_land_in_the_algorithm_config_under_the_same_names(name):
    module = ALGOS[name]
    settings = module.Settings()
    config = settings.algorithm_config()
    assert config.enable_rl_module_and_learner and config.enable_env_runner_and_connector_v2
    for f in dataclasses.fields(settings):
        if f.name not in NOT_CONFIG_ATTRIBUTES:
            assert getattr(config, f.name) == getattr(settings, f.name), f.name
    assert config.model_config["fcnet_hiddens"] == settings.fcnet_hiddens
    assert config.model_config["fcnet_activation"] == settings.fcnet_activation
    if hasattr(settings, "log_std_init"):
        assert config.model_config["log_std_init"] == settings.log_std_init
    if hasattr(settings, "normalize_observations"):
        assert config.model_config["normalize_observations"] == settings.normalize_observations
    # Left to the driver.
    assert config.env is None and not config.is_multi_agent


def test_lr_schedule_is_accepted_and_reaches_the_config():
    settings = from_yaml("pg", lr=[[0, 0.003], [100000, 0.0005]])
    assert settings.algorithm_config().lr == [[0, 0.003], [100000, 0.0005]]


BAD = [
    ("pg", {"lr": 0.0}, "lr"),
    ("pg", {"lr": -1.0}, "lr"),
    ("pg", {"lr": [[10, 0.001], [20, 0.0001]]}, "lr"),  # schedule must start at 0
    ("pg", {"lr": [[0, 0.001], [20, -0.1]]}, "lr"),
    ("pg", {"gamma": 0.0}, "gamma"),
    ("pg", {"gamma": 1.01}, "gamma"),
    ("pg", {"train_batch_size": 0}, "train_batch_size"),
    ("pg", {"baseline": "critic"}, "baseline"),
    ("pg", {"baseline": "none", "batch_mode": "truncate_episodes"}, "batch_mode"),
    ("pg", {"entropy_coeff": -0.1}, "entropy_coeff"),
    ("pg", {"vf_iters": 0}, "vf_iters"),
    ("pg", {"grad_clip": 0.0}, "grad_clip"),
    ("pg", {"fcnet_hiddens": []}, "fcnet_hiddens"),
    ("ppo", {"lr": 0.0}, "lr"),
    ("ppo", {"gamma": 0.0}, "gamma"),
    ("ppo", {"train_batch_size": 0}, "train_batch_size"),
    ("ppo", {"minibatch_size": 8000}, "minibatch_size"),
    ("ppo", {"lambda_": 1.5}, "lambda_"),
]


@pytest.mark.parametrize("name, overrides, field", BAD)
def test_bad_settings_raise_value_error_naming_the_field(name, overrides, field):
    with pytest.raises(ValueError, match=rf"^algo\.{field} must be"):
        from_yaml(name, **overrides)
    with pytest.raises(ValueError, match=rf"^algo\.{field} must be"):
        ALGOS[name].Settings(**overrides)


def test_error_message_shows_the_bad_value():
    with pytest.raises(ValueError, match=r"^algo\.lr must be > 0, got -1\.0$"):
        pg.Settings(lr=-1.0)


def test_every_activation_a_config_accepts_is_a_layer_of_the_exported_network():
    from smarts_rl.algorithms import ACTIVATIONS
    from smarts_rl.agents.policy_network import ACTIVATIONS as TORCH_LAYERS

    assert set(ACTIVATIONS) == set(TORCH_LAYERS)
    for algo in ALGOS.values():
        for activation in ACTIVATIONS:
            assert dataclasses.replace(algo.Settings(), fcnet_activation=activation).fcnet_activation == activation
        with pytest.raises(ValueError, match="algo.fcnet_activation"):
            dataclasses.replace(algo.Settings(), fcnet_activation="sigmoid")
