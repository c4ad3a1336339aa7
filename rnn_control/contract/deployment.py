"""Reading a bundle's deployment contract: the joints it commands and reads, in which mode, and
the limits that follow from it.

The contract itself is :class:`~rnn_control.contract.metadata.ActionField` (per joint: target,
mode, default position, scale/offset, kp/kd, effort limit, command limits, safe value, slew).
These helpers answer the questions a node, ``inspect`` and ``diff`` ask of it, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnn_control.contract.fields import parse_source
from rnn_control.contract.metadata import ActionField, BundleMetadata

JOINT_COMMAND_TYPES = ("joint_state", "joint_trajectory")
"""Command messages that carry joint values in one named field (position, velocity or effort)."""


def action_joints(action: Sequence[ActionField]) -> list[str]:
    """The joints of the ``joint/<name>`` targets, in action (model output) order."""
    return [f.joint for f in action if f.joint is not None]


def observed_joints(meta: BundleMetadata) -> list[str]:
    """The joints the observation reads (``joint_state/<field>/<joint>``), in first-use order."""
    joints: dict[str, None] = {}
    for f in meta.observation:
        path = parse_source(f.source)
        if path.group == "joint_state":
            joints.setdefault(path.path[1])
    return list(joints)


def duplicate_targets(action: Sequence[ActionField]) -> list[str]:
    """Targets (``joint/a``, ``vector/0``, ...) that more than one action writes, sorted."""
    targets = [f.target.strip() for f in action]
    return sorted({t for t in targets if targets.count(t) > 1})


def joint_modes(action: Sequence[ActionField]) -> dict[str, str]:
    """``{joint: mode}`` of the joint targets that declare a control mode."""
    return {f.joint: f.mode for f in action if f.joint is not None and f.mode is not None}


def declared_command_field(action: Sequence[ActionField]) -> str | None:
    """The JointState/JointTrajectory field the bundle's joints are commanded in: their common
    control mode (``position``, ``velocity`` or ``effort``); ``None`` when no joint declares one.
    ``ValueError`` naming the joints when they mix modes (one message carries one field)."""
    modes = joint_modes(action)
    kinds = sorted(set(modes.values()))
    if len(kinds) > 1:
        by_mode = {m: [j for j, k in modes.items() if k == m] for m in kinds}
        raise ValueError(
            f"the bundle's joints mix control modes ({by_mode}); a JointState/JointTrajectory "
            "command carries one field for all joints: use command_type float64_multi_array"
        )
    return kinds[0] if kinds else None


def command_bound(field: ActionField) -> float:
    """The largest |command| a target can send (its limits are ``[low, high]``)."""
    return max(abs(field.low), abs(field.high))
