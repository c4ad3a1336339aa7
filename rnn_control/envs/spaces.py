"""Gymnasium spaces as the plain mappings that checkpoints store (``spaces`` entry)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from rnn_control.errors import ConfigError


def describe_spaces(obs_space: gym.Space, act_space: gym.Space) -> dict[str, Any]:
    """The ``spaces`` entry of a checkpoint (plain lists, JSON-able); what
    ``rnn_control.contract.bundle_layout`` takes to lay out a bundle."""
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise ConfigError(f"env: policies need a flat Box observation space, got {obs_space}")
    obs = {"shape": list(obs_space.shape), "low": obs_space.low.tolist(), "high": obs_space.high.tolist()}
    if isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
        act = {
            "type": "box",
            "shape": list(act_space.shape),
            "low": act_space.low.tolist(),
            "high": act_space.high.tolist(),
        }
    elif isinstance(act_space, gym.spaces.Discrete):
        act = {"type": "discrete", "n": int(act_space.n)}
    else:
        raise ConfigError(f"env: policies need a flat Box or a Discrete action space, got {act_space}")
    return {"observation": obs, "action": act}
