"""Sensor noise: additive Gaussian noise (and an optional constant bias per episode)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class ObsNoise(gym.ObservationWrapper):
    """Add ``N(0, std)`` noise every step plus a per-episode bias to a Box observation.

    The observation bounds become infinite where noise is added (noise can leave any finite box).
    """

    def __init__(self, env: gym.Env, std: float | list[float] = 0.01, bias_std: float | list[float] = 0.0):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError("obs_noise needs a Box observation space")
        self.std = _per_entry(std, space.shape, "std")
        self.bias_std = _per_entry(bias_std, space.shape, "bias_std")
        noisy = (self.std > 0) | (self.bias_std > 0)
        low = np.where(noisy, -np.inf, space.low).astype(space.dtype)
        high = np.where(noisy, np.inf, space.high).astype(space.dtype)
        self.observation_space = gym.spaces.Box(low, high, dtype=space.dtype)
        self._rng = np.random.default_rng()
        self._bias = np.zeros(space.shape)

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng([seed, 0x0B5])
        self._bias = self._rng.normal(size=self.std.shape) * self.bias_std
        return super().reset(seed=seed, options=options)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        noise = self._rng.normal(size=observation.shape) * self.std + self._bias
        return (observation + noise).astype(self.observation_space.dtype)


def _per_entry(value: float | list[float], shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(shape, float(arr))
    if arr.shape != shape:
        raise ValueError(f"obs_noise.{name}: {len(arr)} values for an observation of shape {shape}")
    return arr
