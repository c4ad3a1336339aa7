"""Scenario wrappers: the explicit table of every wrapper a scenario's ``env.wrappers`` may name.

Each name's parameters are a dataclass in ``rnn_control.scenario.wrappers`` (validated when the
scenario loads); :func:`apply_wrapper` builds the wrapper with them. To add one: write the
``gymnasium.Wrapper`` here, its parameters there, and a line in both tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

from rnn_control.config import from_dict, to_dict
from rnn_control.envs.wrappers.action_repeat import ActionRepeat
from rnn_control.envs.wrappers.domain_randomization import DomainRandomization
from rnn_control.envs.wrappers.dt_jitter import DtJitter
from rnn_control.envs.wrappers.fault import Fault
from rnn_control.envs.wrappers.frame_stack import FrameStack
from rnn_control.envs.wrappers.joint_space import JointSpace
from rnn_control.envs.wrappers.latency import Latency
from rnn_control.envs.wrappers.mask_velocity import MaskVelocity
from rnn_control.envs.wrappers.obs_noise import ObsNoise
from rnn_control.envs.wrappers.privileged_obs import PrivilegedObs
from rnn_control.scenario.wrappers import WRAPPER_PARAMS

WRAPPERS: dict[str, type[gym.Wrapper]] = {
    "action_repeat": ActionRepeat,
    "domain_randomization": DomainRandomization,
    "dt_jitter": DtJitter,
    "fault": Fault,
    "frame_stack": FrameStack,
    "joint_space": JointSpace,
    "latency": Latency,
    "mask_velocity": MaskVelocity,
    "obs_noise": ObsNoise,
    "privileged_obs": PrivilegedObs,
}
assert set(WRAPPERS) == set(WRAPPER_PARAMS), "wrapper table and parameter table must name the same wrappers"


def register_wrapper(name: str, params: type) -> Callable[[type[gym.Wrapper]], type[gym.Wrapper]]:
    """Class decorator for a user's own wrapper: ``@register_wrapper("my_noise", MyNoiseParams)``
    adds it to both tables, so scenarios can name it in ``env.wrappers``."""

    def deco(cls: type[gym.Wrapper]) -> type[gym.Wrapper]:
        WRAPPER_PARAMS[name] = params
        WRAPPERS[name] = cls
        return cls

    return deco


def apply_wrapper(env: gym.Env, name: str, raw: Any, where: str = "wrapper") -> gym.Env:
    """``env`` wrapped in wrapper ``name`` with parameters ``raw`` (a mapping, validated)."""
    params = from_dict(WRAPPER_PARAMS[name], raw or {}, where)
    return WRAPPERS[name](env, **to_dict(params))


__all__ = [
    "WRAPPERS",
    "ActionRepeat",
    "DomainRandomization",
    "DtJitter",
    "Fault",
    "FrameStack",
    "JointSpace",
    "Latency",
    "MaskVelocity",
    "ObsNoise",
    "PrivilegedObs",
    "apply_wrapper",
    "register_wrapper",
]
