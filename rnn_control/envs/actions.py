"""Map a deployed command back to the action a Gymnasium env accepts."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


def command_to_env_action(
    command: np.ndarray, space: gym.Space, scale: np.ndarray | float = 1.0, offset: np.ndarray | float = 0.0
) -> Any:
    """Undo the bundle's ``command = offset + scale * output`` and fit the result to ``space``.

    Discrete spaces get the rounded index (clipped to ``[0, n)``), Box spaces the clipped vector
    in the space's dtype. Used wherever a bundle drives a simulated env (sim bridge, benchmarks).
    """
    raw = (np.asarray(command, dtype=np.float64) - offset) / scale
    if isinstance(space, gym.spaces.Discrete):
        return int(np.clip(np.rint(raw[0]), 0, space.n - 1))
    return np.clip(raw, space.low, space.high).astype(space.dtype)
