"""The acting half of RLlib's default MLP module in plain torch, and its deterministic action.

`export` ships this file (with the rest of smarts_rl/agents/) so that a trained
policy runs where Ray is not installed; it imports nothing but numpy and torch.

RLlib's default torch module for PG and PPO (separate policy and value networks) computes the
action distribution's inputs as Linear + activation for each hidden layer, then one Linear.
The value network is not needed to act, so it is left out. A policy trained with
`normalize_observations` first standardises its input with the running mean and variance it
ended training with (`standardized`, which the RLlib module uses too).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# RLlib's names for its `fcnet_activation` choices.
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "swish": nn.SiLU, "silu": nn.SiLU, "linear": None}
OBS_CLIP = 10.0  # standardised observations are clipped to +-this many standard deviations
OBS_EPSILON = 1e-8  # added to the variance, so that features that never varied stay finite


def standardized(obs: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """(obs - mean) / std per feature, clipped to +-OBS_CLIP (as Stable-Baselines3's VecNormalize)."""
    return torch.clamp((obs - mean) / torch.sqrt(var + OBS_EPSILON), -OBS_CLIP, OBS_CLIP)


class PolicyNetwork(nn.Module):
    """observation vectors (batch x obs_dim) → action distribution inputs (batch x outputs)."""

    def __init__(self, obs_dim: int, hidden: list[int], activation: str, outputs: int,
                 normalize_observations: bool = False):
        super().__init__()
        if normalize_observations:
            self.register_buffer("obs_mean", torch.zeros(obs_dim))
            self.register_buffer("obs_var", torch.ones(obs_dim))
        layers, size = [], obs_dim
        for width in hidden:
            layers.append(nn.Linear(size, width))
            if ACTIVATIONS[activation] is not None:
                layers.append(ACTIVATIONS[activation]())
            size = width
        layers.append(nn.Linear(size, outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "obs_mean"):
            obs = standardized(obs, self.obs_mean, self.obs_var)
        return self.layers(obs)

    def linear_layers(self) -> list[nn.Linear]:
        return [layer for layer in self.layers if isinstance(layer, nn.Linear)]


def deterministic_action(outputs: np.ndarray, action: dict):
    """The action RLlib takes without exploration, in the env's action space.

    `action` describes the action space: `{"kind": "discrete"}`, or `{"kind": "box", "low": [...],
    "high": [...], "normalize_actions": bool, "clip_actions": bool}`. Discrete: the most likely
    action. Box: the Gaussian's mean (the first half of the outputs), unsquashed from [-1, 1] into
    [low, high] when RLlib normalised actions (its default), else clipped if it clipped them.
    """
    if action["kind"] == "discrete":
        return int(np.argmax(outputs))
    low = np.asarray(action["low"], dtype=np.float32)
    high = np.asarray(action["high"], dtype=np.float32)
    mean = np.asarray(outputs[: low.shape[0]], dtype=np.float32)
    if action["normalize_actions"]:
        return np.clip(low + (mean + 1.0) * (high - low) / 2.0, low, high).astype(np.float32)
    if action["clip_actions"]:
        return np.clip(mean, low, high).astype(np.float32)
    return mean
