"""The simulator's own step: seconds of simulated time per step of the unwrapped env."""

from __future__ import annotations

import gymnasium as gym


def base_dt(env: gym.Env) -> float | None:
    """Seconds per step of the unwrapped simulator, or None when the env does not say.

    Classic control envs keep it in ``dt`` (Pendulum, Acrobot) or ``tau`` (CartPole); MuJoCo envs
    expose ``dt = model.opt.timestep * frame_skip``.
    """
    inner = env.unwrapped
    for name in ("dt", "tau"):
        value = getattr(inner, name, None)
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return None


def set_base_dt(env: gym.Env, dt: float) -> None:
    """Make the unwrapped simulator advance ``dt`` seconds per step (see :func:`base_dt`)."""
    inner = env.unwrapped
    model = getattr(inner, "model", None)
    if model is not None and hasattr(model, "opt") and hasattr(inner, "frame_skip"):
        model.opt.timestep = dt / inner.frame_skip  # MuJoCo: dt is a derived property
    elif isinstance(getattr(inner, "dt", None), (int, float)):
        inner.dt = dt
    elif isinstance(getattr(inner, "tau", None), (int, float)):
        inner.tau = dt
    else:
        raise ValueError(f"cannot change the time step of {type(inner).__name__}: no dt, tau or MuJoCo model")
