"""Latency: the action takes effect ``action_delay`` steps late and the agent sees the
observation from ``obs_delay`` steps ago (sensor pipeline and actuator bus delays)."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np


class Latency(gym.Wrapper):
    """k-step action and observation delays.

    At reset the action queue is filled with the neutral action (zero, clipped into the action
    bounds; index 0 for Discrete) and the observation queue with the first observation.
    """

    def __init__(self, env: gym.Env, action_delay: int = 1, obs_delay: int = 0) -> None:
        super().__init__(env)
        self.action_delay = int(action_delay)
        self.obs_delay = int(obs_delay)
        self._actions: deque = deque(maxlen=self.action_delay + 1)
        self._observations: deque = deque(maxlen=self.obs_delay + 1)

    def _neutral_action(self):
        space = self.env.action_space
        if isinstance(space, gym.spaces.Box):
            return np.clip(np.zeros(space.shape, dtype=space.dtype), space.low, space.high)
        if isinstance(space, gym.spaces.Discrete):
            return int(space.start)
        raise ValueError(f"latency: unsupported action space {space}")

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._actions.clear()
        self._actions.extend([self._neutral_action()] * self.action_delay)
        self._observations.clear()
        self._observations.extend([obs] * (self.obs_delay + 1))
        return self._observations[0], info

    def step(self, action):
        self._actions.append(action)
        obs, reward, terminated, truncated, info = self.env.step(self._actions.popleft())
        self._observations.append(obs)
        return self._observations[0], reward, terminated, truncated, info
