"""What differs between two bundles' deployment contracts, or between a bundle and a robot.

:func:`compare_bundles` lines up two bundles' actions by target and observations by source and
reports every difference in the contract: joint set and order, mode, scale, offset, default
position, kp/kd, effort limit, command limits, safe value, slew, units, names; control period;
observation layout; kind and time-awareness. Weights and architecture are not the contract and
are not compared.

:func:`compare_with_robot` checks a bundle against a
:class:`~rnn_control.contract.robot_description.RobotDescription` (a joint list, URDF or MJCF):
joints the robot lacks, actuated joints the bundle does not command, command order (where the
robot has one), control modes the robot does not accept, position/effort/velocity limits beyond
the robot's, gains that differ from the robot's.

Each :class:`Difference` is one line naming the joint (or field) and both values. Pure Python:
the policy node refuses to configure with the same list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rnn_control.contract.deployment import action_joints, duplicate_targets, observed_joints
from rnn_control.contract.metadata import ActionField, BundleMetadata
from rnn_control.contract.robot_description import RobotDescription, RobotJoint

REL_TOL = 1e-9
ACTION_KEYS = ("mode", "scale", "offset", "default_position", "kp", "kd", "effort_limit", "safe", "max_rate",
               "unit", "name")  # fmt: skip


@dataclass(frozen=True)
class Difference:
    """One difference: ``subject`` (``joint/hip``, ``control period``, ``observation
    joint_state/position/hip``, ...), ``what`` differs, the two values, and the line to print."""

    subject: str
    what: str
    left: Any
    right: Any
    text: str

    def __str__(self) -> str:
        return self.text


def fmt(value: Any) -> str:
    """A value as the messages print it (``-`` for unset, ``g`` format for floats, lists bracketed)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value) if value != "" else "''"


def same(a: Any, b: Any) -> bool:
    """Equal, floats within a relative 1e-9 (and inf == inf)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return a == b or math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
    return a == b


def _diff(subject: str, what: str, a: Any, b: Any, labels: tuple[str, str]) -> Difference:
    head = f"{subject}: {what} " if what else f"{subject}: "
    return Difference(subject, what, a, b, f"{head}{fmt(a)} ({labels[0]}) vs {fmt(b)} ({labels[1]})")


def _duplicates(meta: BundleMetadata, label: str) -> list[Difference]:
    out = []
    for target in duplicate_targets(meta.action):
        n = sum(f.target.strip() == target for f in meta.action)
        out.append(Difference(target, "duplicate", label, n, f"{target}: written by {n} actions of {label}"))
    return out


def _order(subject: str, a: Sequence[str], b: Sequence[str], labels: tuple[str, str]) -> list[Difference]:
    common = set(a) & set(b)
    a_common, b_common = [x for x in a if x in common], [x for x in b if x in common]
    return [] if a_common == b_common else [_diff(f"{subject} order", "", a_common, b_common, labels)]


def compare_bundles(
    a: BundleMetadata, b: BundleMetadata, labels: tuple[str, str] = ("A", "B")
) -> list[Difference]:
    """Every difference between the deployment contracts of bundles ``a`` and ``b``."""
    out: list[Difference] = []
    for key in ("kind", "time_aware"):
        if getattr(a, key) != getattr(b, key):
            out.append(_diff(key.replace("_", "-"), "", getattr(a, key), getattr(b, key), labels))
    if not same(a.control_period, b.control_period):
        out.append(Difference(
            "control period", "", a.control_period, b.control_period,
            f"control period: {a.control_period:g} s = {1 / a.control_period:g} Hz ({labels[0]}) vs "
            f"{b.control_period:g} s = {1 / b.control_period:g} Hz ({labels[1]})",
        ))  # fmt: skip
    out += _duplicates(a, labels[0]) + _duplicates(b, labels[1])
    a_act = {f.target.strip(): f for f in a.action}
    b_act = {f.target.strip(): f for f in b.action}
    for target in [*a_act, *(t for t in b_act if t not in a_act)]:
        fa, fb = a_act.get(target), b_act.get(target)
        if fa is None or fb is None:
            side = labels[0] if fb is None else labels[1]
            out.append(Difference(target, "only", fa, fb, f"{target}: commanded by {side} only"))
            continue
        if not (same(fa.low, fb.low) and same(fa.high, fb.high)):
            out.append(_diff(target, "limits", [fa.low, fa.high], [fb.low, fb.high], labels))
        for key in ACTION_KEYS:
            if not same(getattr(fa, key), getattr(fb, key)):
                out.append(_diff(target, key.replace("_", " "), getattr(fa, key), getattr(fb, key), labels))
    out += _order("action", list(a_act), list(b_act), labels)
    a_obs = {f.source.strip(): f for f in a.observation}
    b_obs = {f.source.strip(): f for f in b.observation}
    for source in [*a_obs, *(s for s in b_obs if s not in a_obs)]:
        oa, ob = a_obs.get(source), b_obs.get(source)
        subject = f"observation {source}"
        if oa is None or ob is None:
            side = labels[0] if ob is None else labels[1]
            out.append(Difference(subject, "only", oa, ob, f"{subject}: read by {side} only"))
            continue
        for key in ("name", "unit"):
            if getattr(oa, key) != getattr(ob, key):
                out.append(_diff(subject, key, getattr(oa, key), getattr(ob, key), labels))
    out += _order("observation", list(a_obs), list(b_obs), labels)
    return out


def command_order(meta: BundleMetadata, command_joints: Sequence[str] | None = None) -> list[str]:
    """The order joint commands go out in: ``command_joints``, or the bundle's action order."""
    return list(command_joints) if command_joints else action_joints(meta.action)


def compare_with_robot(
    meta: BundleMetadata,
    robot: RobotDescription,
    command_joints: Sequence[str] | None = None,
    label: str = "the bundle",
) -> list[Difference]:
    """Every way ``meta`` does not fit ``robot``; ``command_joints`` is the command order when it
    is not the bundle's action order (the policy node's parameter of that name)."""
    labels = (label, robot.source)
    out = _duplicates(meta, label)
    commanded = action_joints(meta.action)

    def note(joint: str, what: str, left: Any, right: Any, text: str) -> None:
        out.append(Difference(f"joint/{joint}", what, left, right, f"joint/{joint}: {text}"))

    for joint in commanded:
        if robot.joint(joint) is None:
            text = f"commanded by {label}; {robot.source} has no such joint"
            note(joint, "missing on robot", joint, None, text)
    for joint in observed_joints(meta) if robot.complete else []:
        if robot.joint(joint) is None:
            text = f"read by {label} (joint_state/.../{joint}); {robot.source} has no such joint"
            note(joint, "missing on robot", joint, None, text)
    for joint in robot.actuated_order:
        if joint not in commanded:
            text = f"actuated on {robot.source}, not commanded by {label}"
            note(joint, "not commanded", None, joint, text)
    if robot.ordered:
        out += _order("joint", command_order(meta, command_joints), robot.actuated_order, labels)
    for f in meta.action:
        rj = robot.joint(f.joint) if f.joint is not None else None
        if rj is not None:
            out += _joint_limits(f, rj, labels)
    return out


def _outside(value: float, lo: float, hi: float) -> bool:
    tol = REL_TOL * max(1.0, abs(lo), abs(hi))
    return value < lo - tol or value > hi + tol


def _joint_limits(f: ActionField, rj: RobotJoint, labels: tuple[str, str]) -> list[Difference]:
    """Where one joint's contract asks more than the robot's joint gives, or differs from it."""
    subject, out = f.target, []

    def beyond(what: str, ours: Any, lo: float | None, hi: float | None, verb: str = "exceed") -> None:
        """Report ``ours`` (a value, or ``[low, high]``) outside the robot's ``[lo, hi]``; a scalar
        bound ``0 <= x <= hi`` is printed as ``hi``."""
        values = ours if isinstance(ours, list) else [ours]
        if lo is None or hi is None or not any(_outside(v, lo, hi) for v in values):
            return
        theirs = hi if verb == "exceeds" else [lo, hi]
        text = f"{subject}: {what} {fmt(ours)} ({labels[0]}) {verb} {fmt(theirs)} ({labels[1]})"
        out.append(Difference(subject, what, ours, theirs, text))

    def gain(key: str, theirs: float | None) -> None:
        ours = getattr(f, key)
        if ours is not None and theirs is not None and not same(ours, theirs):
            out.append(_diff(subject, key, ours, theirs, labels))

    if f.mode is not None and rj.modes and f.mode not in rj.modes:
        out.append(_diff(subject, "mode", f.mode, " | ".join(rj.modes), labels))
    target_lo, target_hi = rj.target_range or (None, None)
    command = [f.low, f.high]
    if f.mode == "position":
        beyond("position limits", command, rj.lower, rj.upper)
        beyond("position targets", command, target_lo, target_hi)
        if f.default_position is not None:
            beyond("default position", f.default_position, rj.lower, rj.upper, verb="is outside")
        gain("kp", rj.kp)
        gain("kd", rj.kd)
    elif f.mode == "velocity":
        vmax = rj.velocity_limit
        beyond("velocity limits", command, None if vmax is None else -vmax, vmax)
        beyond("velocity targets", command, target_lo, target_hi)
        gain("kd", rj.kd)
    emax = rj.effort_limit
    if emax is not None:
        if f.mode == "effort":
            beyond("effort limits", command, -emax, emax)
        if f.effort_limit is not None:
            beyond("effort limit", f.effort_limit, 0.0, emax, verb="exceeds")
    return out
