"""The scenario's ``io:`` section: per-field overrides of a bundle's default IO layout.

The defaults (``obs_<i>`` from ``vector/<i>``, ``act_<i>`` to ``vector/<i>``) come from the
environment's spaces (:mod:`.layout`); the overrides rename fields, route them to ROS message
fields and set units, safe values, slew limits and scaling. They are applied at export, so the
bundle carries the final layout.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from rnn_control.contract.fields import parse_source, parse_target
from rnn_control.contract.metadata import ActionField, ObservationField
from rnn_control.errors import ConfigError


@dataclass
class ObservationOverride:
    """Per-field override of the default observation layout (unset keys keep the default)."""

    name: str | None = None
    source: str | None = None
    unit: str | None = None


@dataclass
class ActionOverride:
    """Per-field override of the default action layout (unset keys keep the default).

    ``low``/``high`` may only narrow the action space's limits (command units, after scale/offset).
    """

    name: str | None = None
    target: str | None = None
    unit: str | None = None
    safe: float | None = None
    max_rate: float | None = None
    scale: float | None = None
    offset: float | None = None
    low: float | None = None
    high: float | None = None
    mode: Literal["effort", "position", "velocity"] | None = None
    default_position: float | None = None
    kp: float | None = None
    kd: float | None = None
    effort_limit: float | None = None


@dataclass
class IOLayout:
    """The scenario's ``io:`` section: how the trained model meets the robot.

    ``observation``/``action`` are lists in model order (empty: keep the defaults; otherwise one
    entry per field). Example::

        io:
          observation:
            - {name: cos_theta, source: vector/0}
            - {name: sin_theta, source: vector/1}
          action:
            - {name: torque, target: joint/pole, unit: N*m, safe: 0.0, max_rate: 40.0}
    """

    observation: list[ObservationOverride] = field(default_factory=list)
    action: list[ActionOverride] = field(default_factory=list)

    def validate(self) -> None:
        for i, o in enumerate(self.observation):
            if o.source is not None:
                try:
                    parse_source(o.source)
                except ValueError as exc:
                    raise ConfigError(f"observation[{i}].source: {exc}") from None
        for i, a in enumerate(self.action):
            if a.target is not None:
                try:
                    parse_target(a.target)
                except ValueError as exc:
                    raise ConfigError(f"action[{i}].target: {exc}") from None
            if a.max_rate is not None and not a.max_rate > 0:
                raise ConfigError(f"action[{i}].max_rate: must be > 0, got {a.max_rate}")

    def apply(
        self, observation: list[ObservationField], action: list[ActionField], where: str = "io"
    ) -> tuple[list[ObservationField], list[ActionField]]:
        """Defaults with the overrides applied; ``ConfigError`` if the lengths do not match."""
        for what, over, base in (
            ("observation", self.observation, observation),
            ("action", self.action, action),
        ):
            if over and len(over) != len(base):
                raise ConfigError(
                    f"{where}.{what}: lists {len(over)} fields but the model has {len(base)}; "
                    f"give one entry per field (in model order) or none"
                )
        obs = [_merge(f, o) for f, o in zip(observation, self.observation)] + observation[
            len(self.observation) :
        ]
        act = []
        for i, f in enumerate(action):
            o = self.action[i] if self.action else ActionOverride()
            lo = f.low if o.low is None else max(f.low, o.low)
            hi = f.high if o.high is None else min(f.high, o.high)
            merged = _merge(f, dataclasses.replace(o, low=None, high=None))
            merged = dataclasses.replace(merged, low=lo, high=hi)
            if merged.mode == "position" and merged.default_position is not None and o.offset is None:
                # a position target is default + scale * output; the safe command holds the default
                merged = dataclasses.replace(merged, offset=merged.default_position)
                if o.safe is None:
                    merged = dataclasses.replace(merged, safe=merged.default_position)
            if o.safe is None:
                merged = dataclasses.replace(merged, safe=_clip(merged.safe, lo, hi))
            try:
                merged.validate()
            except ConfigError as exc:
                raise ConfigError(f"{where}.action[{i}].{exc}") from None
            act.append(merged)
        return obs, act


def _merge(base, override):
    changes = {k: v for k, v in dataclasses.asdict(override).items() if v is not None}
    return dataclasses.replace(base, **changes)


def _clip(value: float, low: float, high: float) -> float:
    return float(min(max(value, low), high))
