"""Privileged observation: the simulator's full observation, for the critic of an asymmetric
actor-critic (as rsl_rl and Isaac Lab train legged robots).

Listed first in ``env.wrappers``, it copies the env's own observation (HalfCheetah's joint
velocities and forward speed included) into ``info["privileged_obs"]`` on every reset and step,
before ``joint_space`` or ``mask_velocity`` replace the observation with what the robot measures.
With ``policy.critic_obs: privileged`` the PPO critic reads it in training; the actor, the
exported bundle and the robot never do.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

PRIVILEGED_KEY = "privileged_obs"  # the info key, in single and vector envs


class PrivilegedObs(gym.Wrapper):
    """Copy the observation at this point of the wrapper chain into ``info["privileged_obs"]``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise ValueError(f"privileged_obs: needs a flat Box observation, got {space}")
        self.privileged_space = gym.spaces.Box(-np.inf, np.inf, space.shape, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, PRIVILEGED_KEY: np.asarray(obs, dtype=np.float32)}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, PRIVILEGED_KEY: np.asarray(obs, dtype=np.float32)}
