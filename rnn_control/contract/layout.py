"""A bundle's IO layout from the environment's spaces and the scenario's ``io:`` overrides.

The exporter (from a checkpoint's stored spaces) and the sim bridge (from a live env) both call
:func:`bundle_layout`, so a scenario deployed without a bundle is laid out exactly as its
exported bundles would be.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from rnn_control.config import from_dict
from rnn_control.contract.io_layout import IOLayout
from rnn_control.contract.metadata import ActionField, ObservationField
from rnn_control.errors import ConfigError


def default_observation_fields(obs_dim: int) -> list[ObservationField]:
    """``obs_<i>`` read from ``vector/<i>``."""
    return [ObservationField(name=f"obs_{i}", source=f"vector/{i}") for i in range(obs_dim)]


def default_action_fields(low: Sequence[float], high: Sequence[float]) -> list[ActionField]:
    """``act_<i>`` written to ``vector/<i>`` with the given limits, safe = 0 clipped into them."""
    return [
        ActionField(
            name=f"act_{i}",
            target=f"vector/{i}",
            low=float(lo),
            high=float(hi),
            safe=float(min(max(0.0, lo), hi)),
        )
        for i, (lo, hi) in enumerate(zip(low, high))
    ]


def action_limits(space: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """Limits of the model output from a space description (``{"type": "box", "low", "high"}``
    or ``{"type": "discrete", "n"}``): a box's low/high, or ``[0, n - 1]`` for a discrete index."""
    kind = space.get("type", "box")
    if kind == "discrete":
        return [0.0], [float(space["n"] - 1)]
    low, high = _flat(space.get("low")), _flat(space.get("high"))
    if not low or len(low) != len(high):
        raise ConfigError(f"spaces.action: box needs low/high of equal length, got {dict(space)}")
    return low, high


def _flat(values: Any) -> list[float]:
    if values is None:
        return []
    if isinstance(values, (int, float)):
        return [float(values)]
    out: list[float] = []
    for v in values:
        out += _flat(v)
    return out


def dynamics_layout(
    observation: list[ObservationField], action: list[ActionField]
) -> tuple[list[ObservationField], list[ActionField]]:
    """Dynamics bundles: inputs = sensor fields then the commands (fed back as ``last_action/<i>``),
    outputs = the predicted next value of every sensor field (unbounded: predictions are compared,
    never sent to actuators)."""
    inputs = list(observation)
    inputs += [ObservationField(f"cmd_{a.name}", f"last_action/{i}", a.unit) for i, a in enumerate(action)]
    predicted = [
        ActionField(f"next_{o.name}", f"vector/{i}", low=-math.inf, high=math.inf, unit=o.unit)
        for i, o in enumerate(observation)
    ]
    return inputs, predicted


def bundle_layout(
    io: IOLayout,
    obs_dim: int,
    action_space: Mapping[str, Any],
    kind: Literal["policy", "dynamics"] = "policy",
    where: str = "scenario io",
    fields: Mapping[str, Any] | None = None,
) -> tuple[list[ObservationField], list[ActionField]]:
    """The observation and action fields of a ``kind`` bundle, then the ``io:`` overrides applied
    (``ConfigError`` naming the field if they do not fit).

    The base layout is ``fields`` where the environment declares one (``{"observation": [...],
    "action": [...]}`` of field mappings, e.g. a joint-space robot's ``joint_state/position/<joint>``
    and ``joint/<joint>`` with its deployment contract), else the defaults from the spaces.
    """
    low, high = action_limits(action_space)
    base_obs, base_act = default_observation_fields(obs_dim), default_action_fields(low, high)
    if fields:
        base_obs, base_act = declared_fields(fields, obs_dim, len(low), where)
    observation, action = io.apply(base_obs, base_act, where=where)
    if kind == "dynamics":
        return dynamics_layout(observation, action)
    return observation, action



def declared_fields(
    fields: Mapping[str, Any], obs_dim: int, act_dim: int, where: str = "fields"
) -> tuple[list[ObservationField], list[ActionField]]:
    """An environment's declared layout (plain mappings, as checkpoints store it), validated and
    checked against the spaces' sizes."""
    observation = [
        from_dict(ObservationField, f, f"{where}.observation[{i}]")
        for i, f in enumerate(fields.get("observation", ()))
    ]
    action = [
        from_dict(ActionField, f, f"{where}.action[{i}]") for i, f in enumerate(fields.get("action", ()))
    ]
    if len(observation) != obs_dim or len(action) != act_dim:
        raise ConfigError(
            f"{where}: the environment declares {len(observation)} observation and {len(action)} action "
            f"fields but its spaces have {obs_dim} and {act_dim}"
        )
    return observation, action
