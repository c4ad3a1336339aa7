"""Expert controllers that see the full simulator state (privileged information).

They label the observations a partially observing student policy sees, for behaviour cloning
and DAgger. Each expert reads the true state from ``env.unwrapped`` (not the masked, noisy,
delayed observation) and returns an action in env units.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

Expert = Callable[[gym.Env], np.ndarray | int]


def _wrap_angle(th: float) -> float:
    return float((th + np.pi) % (2 * np.pi) - np.pi)


def pendulum_expert(env: gym.Env) -> np.ndarray:
    """Pendulum-v1: energy-pumping swing-up, then a PD (LQR-like) balance near upright.

    Dynamics (Gymnasium): ``thdd = 3g/(2l) sin(th) + 3/(m l^2) u`` with ``th = 0`` upright, so
    ``E = thdot^2 / 2 + 3g/(2l) (cos th - 1)`` is 0 at the upright rest and ``dE/dt = 3 thdot u``.
    """
    inner = env.unwrapped
    th, thdot = inner.state
    th = _wrap_angle(th)
    g, max_u = inner.g, inner.max_torque
    energy = 0.5 * thdot**2 + 1.5 * g * (np.cos(th) - 1.0)
    if abs(th) < 0.5 and abs(thdot) < 4.0:
        u = -(10.0 * th + 2.0 * thdot)
    else:
        u = 2.0 * thdot * (0.0 - energy)
        if abs(thdot) < 1e-3:  # at rest at the bottom: kick
            u = max_u
    return np.array([np.clip(u, -max_u, max_u)], dtype=np.float32)


def cartpole_expert(env: gym.Env) -> int:
    """CartPole-v1: sign of a linear state feedback (LQR gains for the linearised cart-pole)."""
    x, x_dot, th, th_dot = env.unwrapped.state
    u = 1.0 * x + 1.5 * x_dot + 18.0 * th + 3.0 * th_dot
    return int(u > 0)


def inverted_pendulum_expert(env: gym.Env) -> np.ndarray:
    """InvertedPendulum-v5 (MuJoCo): linear state feedback on cart position/velocity and pole angle/rate."""
    inner = env.unwrapped
    x, th = inner.data.qpos
    x_dot, th_dot = inner.data.qvel
    u = 1.0 * x + 1.0 * x_dot + 12.0 * th + 1.5 * th_dot
    high = inner.action_space.high
    return np.clip(np.array([u], dtype=np.float32), -high, high)


EXPERTS: dict[str, Expert] = {
    "pendulum": pendulum_expert,
    "cartpole": cartpole_expert,
    "inverted_pendulum": inverted_pendulum_expert,
}
DEFAULT_EXPERT: dict[str, str] = {
    "Pendulum-v1": "pendulum",
    "CartPole-v1": "cartpole",
    "InvertedPendulum-v5": "inverted_pendulum",
}


def get_expert(name: str | None, env_id: str) -> Expert:
    """The expert called ``name``, or the default one for ``env_id``."""
    from rnn_control.errors import ConfigError

    key = name or DEFAULT_EXPERT.get(env_id)
    if key is None:
        raise ConfigError(
            f"policy.expert: no default expert for env '{env_id}'; choose one of: {', '.join(EXPERTS)}"
        )
    if key not in EXPERTS:
        raise ConfigError(f"policy.expert: unknown expert '{key}'; choose one of: {', '.join(EXPERTS)}")
    return EXPERTS[key]
