"""Frame stacking: the observation is the last ``frames`` observations side by side (oldest
first), the memory a feed-forward baseline gets instead of a recurrent state.

A benchmark baseline ("an MLP over the last 4 frames"): the stacked vector has no field layout
(the declared one, if any, is dropped), and the ROS nodes do not stack frames, so its bundles
are not meant for a robot.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np


class FrameStack(gym.ObservationWrapper):
    """Concatenate the last ``frames`` flat Box observations; at reset every slot holds the first."""

    io_fields = None  # the stacked vector declares no layout (it is a plain vector)

    def __init__(self, env: gym.Env, frames: int = 4) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"frame_stack: needs a flat Box observation, got {space}")
        self.frames = int(frames)
        self.observation_space = gym.spaces.Box(
            np.tile(space.low, self.frames), np.tile(space.high, self.frames), dtype=space.dtype
        )
        self._history: deque[np.ndarray] = deque(maxlen=self.frames)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._history.clear()
        self._history.extend([np.asarray(obs)] * self.frames)
        return self._stacked(), info

    def observation(self, observation: np.ndarray) -> np.ndarray:
        self._history.append(np.asarray(observation))
        return self._stacked()

    def _stacked(self) -> np.ndarray:
        return np.concatenate(self._history).astype(self.observation_space.dtype)
