"""The control period of an environment: seconds of simulated time per ``env.step``."""

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


def control_period(env: gym.Env) -> float | None:
    """Nominal seconds per ``env.step`` after all wrappers (action repeat multiplies it)."""
    dt = base_dt(env)
    if dt is None:
        return None
    repeat = 1
    e = env
    while isinstance(e, gym.Wrapper):
        repeat *= int(getattr(e, "repeat", 1)) if type(e).__name__ == "ActionRepeat" else 1
        e = e.env
    nominal = _nominal_dt(env)
    return (nominal if nominal is not None else dt) * repeat


def _nominal_dt(env: gym.Env) -> float | None:
    e = env
    while isinstance(e, gym.Wrapper):
        if type(e).__name__ == "DtJitter":
            return float(e.nominal_dt)
        e = e.env
    return None
