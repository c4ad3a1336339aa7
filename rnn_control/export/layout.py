"""Bundle metadata from a checkpoint: spaces + model + the scenario's ``io:`` overrides."""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from rnn_control import __version__
from rnn_control.errors import CheckpointError, ConfigError
from rnn_control.runtime.io_spec import default_action_fields, default_observation_fields
from rnn_control.runtime.metadata import (
    SCHEMA_VERSION,
    STATELESS_CELL,
    ActionField,
    BundleMetadata,
    ObservationField,
)


def action_limits(space: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Limits of the model output: a box's low/high, or ``[0, n - 1]`` for a discrete index."""
    kind = space.get("type", "box")
    if kind == "discrete":
        return [0.0], [float(space["n"] - 1)]
    low, high = _flat(space.get("low")), _flat(space.get("high"))
    if not low or len(low) != len(high):
        raise CheckpointError(f"spaces.action: box needs low/high of equal length, got {space}")
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


def metadata_from_checkpoint(
    ckpt: dict[str, Any], model: nn.Module, where: str = "checkpoint"
) -> BundleMetadata:
    """The metadata of the bundle exported from ``ckpt`` (parity figures are added later)."""
    from rnn_control.scenario import scenario_from_dict

    kind = ckpt.get("kind")
    if kind not in ("policy", "dynamics"):
        raise CheckpointError(f"{where}: kind {kind!r} cannot be exported; expected 'policy' or 'dynamics'")
    missing = [k for k in ("config", "spaces", "control_period") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{where}: missing keys {missing} (see the checkpoint contract)")
    try:
        scenario = scenario_from_dict(ckpt["config"])
    except ConfigError as exc:
        raise CheckpointError(f"{where}: stored scenario is invalid: {exc}") from None
    core = getattr(model, "core", None)  # None: a feed-forward model (stateless bundle)
    obs_dim = int(model.obs_dim)
    low, high = action_limits(ckpt["spaces"]["action"])  # a discrete policy outputs one index
    if ckpt["spaces"]["action"].get("type", "box") == "box" and len(low) != int(model.act_dim):
        raise CheckpointError(f"{where}: action space has {len(low)} dims, model outputs {model.act_dim}")
    try:
        observation, action = scenario.io.apply(
            default_observation_fields(obs_dim), default_action_fields(low, high), where="scenario io"
        )
    except ConfigError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    has_std = False
    if kind == "dynamics":
        observation, action = dynamics_layout(observation, action)
        has_std = True
    return BundleMetadata(
        schema_version=SCHEMA_VERSION,
        kind=kind,
        cell=core.cell if core is not None else STATELESS_CELL,
        num_layers=int(core.num_layers) if core is not None else 0,
        hidden_size=int(core.hidden_size) if core is not None else 0,
        observation=observation,
        action=action,
        control_period=float(ckpt["control_period"]),
        time_aware=bool(core is not None and core.time_aware),
        has_std=has_std,
        scenario=ckpt["config"],
        version=__version__,
    )


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
