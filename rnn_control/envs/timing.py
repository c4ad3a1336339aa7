"""The control period of an environment: seconds of simulated time per ``env.step``.

The one place that knows it: trainers store it in checkpoints, the exporter in bundles, and the
sim bridge steps at it.
"""

from __future__ import annotations

import gymnasium as gym

from rnn_control.envs.sim_step import base_dt
from rnn_control.envs.wrappers.action_repeat import ActionRepeat
from rnn_control.envs.wrappers.dt_jitter import DtJitter


def control_period(env: gym.Env) -> float | None:
    """Nominal seconds per ``env.step`` after all wrappers: the simulator's step (a
    :class:`DtJitter`'s nominal step where one jitters it), times every :class:`ActionRepeat`."""
    dt = base_dt(env)
    if dt is None:
        return None
    repeat, nominal = 1, None
    e = env
    while isinstance(e, gym.Wrapper):
        if isinstance(e, ActionRepeat):
            repeat *= e.repeat
        elif isinstance(e, DtJitter) and nominal is None:
            nominal = float(e.nominal_dt)
        e = e.env
    return (dt if nominal is None else nominal) * repeat
