"""The `algo` options we ship (`pg`, `ppo`), each a `Settings` dataclass subclassing
`smarts_rl.algorithms.contract.Algorithm`, named by its yaml's `_target_`."""

# RLlib's `fcnet_activation` choices (smarts_rl/agents/policy_network.py maps each to its torch layer).
ACTIVATIONS = ("tanh", "relu", "elu", "swish", "silu", "linear")


def mlp_model_config(settings) -> dict:
    """RLlib's default MLP module with separate policy and value networks, from the
    `fcnet_hiddens` and `fcnet_activation` fields of an algorithm's Settings."""
    return {
        "fcnet_hiddens": list(settings.fcnet_hiddens),
        "fcnet_activation": settings.fcnet_activation,
        "vf_share_layers": False,
    }
