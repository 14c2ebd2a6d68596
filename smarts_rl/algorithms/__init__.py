"""RL algorithms the training driver can pick with `algo=<name>`.

Each module (`pg`, `ppo`) exposes the same contract: `Settings` (the schema of
`conf/algo/<name>.yaml`), `algorithm_config(settings)` and `register()`.
"""

# RLlib's `fcnet_activation` choices (smarts_rl/agents/policy_network.py maps each to its torch layer).
ACTIVATIONS = ("tanh", "relu", "elu", "swish", "silu", "linear")


def mlp_model_config(settings) -> dict:
    """RLlib's default MLP module with separate policy and value networks, from the
    `fcnet_hiddens` and `fcnet_activation` fields every algorithm's Settings has."""
    return {
        "fcnet_hiddens": list(settings.fcnet_hiddens),
        "fcnet_activation": settings.fcnet_activation,
        "vf_share_layers": False,
    }
