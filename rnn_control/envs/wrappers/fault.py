"""Fault injection: an actuator that loses gain or a payload that changes, from a given time on.

For testing fault detection (the dynamics monitor) in the sim bridge: the env behaves nominally
until ``at_time`` seconds of simulated time since the env was made (summed over episodes, so the
fault strikes mid-run, and stays), then:

- ``actuator_gain``: every command is multiplied by this factor (0.7: a 30 % gain loss);
- ``payload``: the moving mass is multiplied by this factor (1.5: a 50 % heavier payload):
  Pendulum's ``m``, or a MuJoCo body's mass (``payload_body``; default: the last body).

``info["fault"]`` says whether the fault is active; the moment it strikes is logged once
(``rnn_control.fault`` logger, WARNING).
"""

from __future__ import annotations

import logging

import gymnasium as gym
import numpy as np

from rnn_control.envs.timing import control_period

log = logging.getLogger("rnn_control.fault")


class Fault(gym.Wrapper):
    """Nominal until ``at_time`` s of simulated time, then the configured fault (permanently)."""

    def __init__(
        self,
        env: gym.Env,
        at_time: float = 10.0,
        actuator_gain: float = 1.0,
        payload: float = 1.0,
        payload_body: str = "",
    ) -> None:
        super().__init__(env)
        self.at_time = float(at_time)
        self.gain = float(actuator_gain)
        self.payload = float(payload)
        self.payload_body = payload_body
        self.dt = control_period(env) or 0.05
        self.elapsed = 0.0
        self.active = False

    def _inject(self) -> None:
        self.active = True
        if self.payload != 1.0:
            base = self.env.unwrapped
            model = getattr(base, "model", None)
            if model is not None and hasattr(model, "body_mass"):
                body = model.nbody - 1
                if self.payload_body:
                    import mujoco

                    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, self.payload_body)
                    if body < 0:
                        raise ValueError(f"fault.payload_body: no body '{self.payload_body}' in the model")
                model.body_mass[body] *= self.payload
            elif hasattr(base, "m"):
                base.m = float(base.m) * self.payload
            else:
                raise ValueError(f"fault.payload: {type(base).__name__} has no mass to change")
        log.warning(
            "fault injected at %.3f s of simulated time: actuator gain x%g, payload x%g",
            self.elapsed,
            self.gain,
            self.payload,
        )

    def step(self, action):
        if not self.active and self.elapsed >= self.at_time:
            self._inject()
        if self.active and self.gain != 1.0:
            action = (np.asarray(action) * self.gain).astype(np.asarray(action).dtype)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.elapsed += float(info.get("dt", self.dt))
        info = {**info, "fault": self.active}
        return obs, reward, terminated, truncated, info
