"""Control-period jitter: every step lasts a random time, reported in ``info["dt"]``.

On a robot, sensor messages and control ticks do not arrive on a perfect clock. This wrapper
draws the step duration ``dt = nominal * U(1 - jitter, 1 + jitter)`` each step, makes the
simulator integrate exactly that long, and reports it (in seconds) as ``info["dt"]`` on every
step and on reset (the nominal period there), so a time-aware cell (``tgru``) can use it.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from rnn_control.envs.sim_step import base_dt, set_base_dt


class DtJitter(gym.Wrapper):
    """Random step duration per step (classic control ``dt``/``tau``, MuJoCo ``opt.timestep``)."""

    def __init__(self, env: gym.Env, jitter: float = 0.2, nominal_dt: float | None = None) -> None:
        super().__init__(env)
        env_dt = base_dt(env)
        if env_dt is None and nominal_dt is None:
            raise ValueError(f"dt_jitter: {type(env.unwrapped).__name__} has no time step to jitter")
        self.nominal_dt = float(nominal_dt if nominal_dt is not None else env_dt)
        self.jitter = float(jitter)
        self._rng = np.random.default_rng()
        set_base_dt(env, self.nominal_dt)

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng([seed, 0xD7])
        set_base_dt(self.env, self.nominal_dt)
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, "dt": self.nominal_dt}

    def step(self, action):
        dt = self.nominal_dt * (1.0 + self._rng.uniform(-self.jitter, self.jitter))
        set_base_dt(self.env, dt)
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, "dt": dt}
