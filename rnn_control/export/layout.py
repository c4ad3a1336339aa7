"""Bundle metadata from a checkpoint: the stored spaces and scenario laid out by the contract."""

from __future__ import annotations

from typing import Any

from torch import nn

from rnn_control import __version__
from rnn_control.contract.layout import action_limits, bundle_layout
from rnn_control.contract.metadata import SCHEMA_VERSION, STATELESS_CELL, BundleMetadata
from rnn_control.errors import CheckpointError, ConfigError
from rnn_control.scenario import scenario_from_dict


def metadata_from_checkpoint(
    ckpt: dict[str, Any], model: nn.Module, where: str = "checkpoint"
) -> BundleMetadata:
    """The metadata of the bundle exported from ``ckpt`` (parity figures are added later)."""
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
    space = ckpt["spaces"]["action"]
    try:
        low, _ = action_limits(space)  # a discrete policy outputs one index
        if space.get("type", "box") == "box" and len(low) != int(model.act_dim):
            raise CheckpointError(f"{where}: action space has {len(low)} dims, model outputs {model.act_dim}")
        fields = ckpt["spaces"].get("fields")  # the env's declared layout (joint names), if any
        observation, action = bundle_layout(scenario.io, int(model.obs_dim), space, kind, fields=fields)
    except ConfigError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
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
        has_std=kind == "dynamics",
        scenario=ckpt["config"],
        monitor=dict(ckpt.get("monitor") or {}) if kind == "dynamics" else {},
        version=__version__,
    )


def command_affine(ckpt: dict[str, Any], model: nn.Module) -> tuple[list[float], list[float]] | None:
    """``(scale, offset)`` of the commands a dynamics bundle takes, when its model was trained on
    env actions (rollouts): the bundle's ``last_action/<i>`` inputs are commands, ``offset + scale *
    env action`` (e.g. joint torques for a ctrl in [-1, 1]), so the graph maps them back. ``None``
    when they are the same (scale 1, offset 0) or the model was trained on recorded commands (bags)."""
    if ckpt.get("kind") != "dynamics" or ckpt.get("parity_data") is not None:
        return None
    scenario = scenario_from_dict(ckpt["config"])
    space = ckpt["spaces"]["action"]
    try:
        _, action = bundle_layout(
            scenario.io, int(model.obs_dim), space, "policy", fields=ckpt["spaces"].get("fields")
        )
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint: {exc}") from None
    scale, offset = [a.scale for a in action], [a.offset for a in action]
    if all(v == 1.0 for v in scale) and all(v == 0.0 for v in offset):
        return None
    return scale, offset
