"""Domain randomisation of MuJoCo physics per episode: masses, friction, joint damping and
actuator gains are scaled by factors drawn uniformly from the configured ranges."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

# parameter name -> (MuJoCo model field, column or None for the whole array)
FIELDS: dict[str, tuple[str, int | None]] = {
    "mass": ("body_mass", None),
    "friction": ("geom_friction", 0),  # sliding friction
    "damping": ("dof_damping", None),
    "actuator_gain": ("actuator_gear", 0),  # force/torque per unit of control
}


class DomainRandomization(gym.Wrapper):
    """Draw new physical parameters at every reset (MuJoCo envs only).

    The parameters of the current episode are in ``info["physics"]`` after reset (scale factors).
    """

    def __init__(
        self,
        env: gym.Env,
        mass: list[float] | None = None,
        friction: list[float] | None = None,
        damping: list[float] | None = None,
        actuator_gain: list[float] | None = None,
        per_element: bool = True,
    ) -> None:
        super().__init__(env)
        model = getattr(env.unwrapped, "model", None)
        if model is None or not hasattr(model, "body_mass"):
            raise ValueError(
                f"domain_randomization: {type(env.unwrapped).__name__} is not a MuJoCo env "
                "(needs env.unwrapped.model)"
            )
        self.model = model
        self.ranges = {
            k: v
            for k, v in {
                "mass": mass,
                "friction": friction,
                "damping": damping,
                "actuator_gain": actuator_gain,
            }.items()
            if v is not None
        }
        self.per_element = per_element
        self.nominal = {k: np.array(getattr(model, FIELDS[k][0]), copy=True) for k in self.ranges}
        self._rng = np.random.default_rng()

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng([seed, 0xD0])
        scales = {}
        for name, (low, high) in self.ranges.items():
            field, col = FIELDS[name]
            nominal = self.nominal[name]
            n = nominal.shape[0]
            s = self._rng.uniform(low, high, size=n if self.per_element else 1) * np.ones(n)
            target = getattr(self.model, field)
            if col is None:
                target[:] = nominal * s
            else:
                target[:, col] = nominal[:, col] * s
            scales[name] = s.tolist()
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, "physics": scales}
