"""Registry of scenario wrappers and of the project's Gymnasium env ids.

A wrapper is registered with :func:`register_wrapper`, giving its name in scenario YAML, the
``gymnasium.Wrapper`` subclass and a dataclass of its parameters. The scenario loader validates
parameters against that dataclass, so a typo in a YAML file is caught before any work starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from rnn_control.config import from_dict, to_dict


@dataclass(frozen=True)
class WrapperEntry:
    name: str
    factory: Callable[..., gym.Env]
    params: type

    def parse(self, raw: Any, where: str) -> Any:
        return from_dict(self.params, raw or {}, where)

    def apply(self, env: gym.Env, raw: Any, where: str = "wrapper") -> gym.Env:
        return self.factory(env, **to_dict(self.parse(raw, where)))


WRAPPERS: dict[str, WrapperEntry] = {}


def register_wrapper(name: str, params: type) -> Callable[[Callable[..., gym.Env]], Callable[..., gym.Env]]:
    """Decorator: ``@register_wrapper("mask_velocity", MaskVelocityParams)`` on a wrapper class."""

    def deco(factory: Callable[..., gym.Env]) -> Callable[..., gym.Env]:
        WRAPPERS[name] = WrapperEntry(name, factory, params)
        return factory

    return deco


_registered = False


def ensure_registered() -> None:
    """Import every wrapper module and register the project's env ids (idempotent)."""
    global _registered
    if _registered:
        return
    _registered = True
    import rnn_control.envs.wrappers  # noqa: F401  (registers wrappers on import)
    from rnn_control.envs.scenarios import register_scenarios

    register_scenarios()
