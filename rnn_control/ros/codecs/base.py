"""What every codec shares: validation settings, reject reasons, stamps, the float64[] fast path,
and the two base classes a message kind's module builds on.

A :class:`SensorReader` reads one sensor group (one message kind, one subscription): it checks a
message and, only if it is good, copies the fields the bundle needs into the observation; its
inverse, :meth:`SensorReader.build`, makes that message from observation values (the sim
bridge). A :class:`CommandWriter` turns a command vector into one command message; its inverse,
:meth:`CommandWriter.read`, takes the command back out of such a message (the sim bridge, the
dynamics monitor). Paths come from the one parser of the field grammar,
:mod:`rnn_control.contract.fields`.
"""

from __future__ import annotations

import array
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time

from rnn_control.contract.fields import JOINT_STATE_FIELDS, FieldPath, parse_source, parse_target

# Why a sensor message was dropped. Every reason is a diagnostics counter ("rejected_<reason>").
REJECT_REASONS = (
    "empty",  # JointState without names / Float64MultiArray without data
    "wrong_length",  # array lengths do not match (JointState fields vs names, vector size)
    "missing_joint",  # a joint the bundle needs is not in the message
    "duplicate_joint",  # a joint name appears twice
    "missing_field",  # Imu orientation flagged as absent (covariance[0] == -1)
    "non_finite",  # NaN or inf in a needed value
    "out_of_range",  # |value| > max_abs_value
    "out_of_order_stamp",  # header stamp older than the last accepted one
    "future_stamp",  # header stamp further in the future than stamp_tolerance
)

Slot = tuple[int, FieldPath]
"""An observation index and the parsed source it is read from."""


@dataclass
class ReaderLimits:
    """Validation settings shared by every reader (node parameters of the same names)."""

    max_abs_value: float = 1e6  # larger magnitudes are treated as sensor faults
    stamp_tolerance: float = 0.5  # seconds a stamp may lie ahead of the node's clock
    check_stamps: bool = True
    vector_length: int = 0  # required Float64MultiArray length; 0: highest used index + 1


def stamp_ns(stamp: Time) -> int:
    """A ``builtin_interfaces/Time`` in integer nanoseconds."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def time_msg(ns: int) -> Time:
    """Integer nanoseconds as a ``builtin_interfaces/Time``."""
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def float64_array(values: np.ndarray) -> array.array:
    """``values`` as the ``array.array('d')`` that rosidl float64[] fields store: the setter takes it
    as is, where a list is type- and range-checked element by element."""
    out = array.array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


def group_sources(sources: Sequence[str]) -> dict[str, list[Slot]]:
    """Observation sources by group: ``{group: [(observation index, parsed source), ...]}`` in
    first-use order."""
    groups: dict[str, list[Slot]] = {}
    for i, text in enumerate(sources):
        field = parse_source(text)
        groups.setdefault(field.group, []).append((i, field))
    return groups


def attribute_getter(attributes: Sequence[str]) -> Callable[[Any], Any]:
    """Reads ``msg.a.b.c`` for ``attributes`` ``(a, b, c)``."""
    return operator.attrgetter(".".join(attributes))


def set_attribute(msg: Any, attributes: Sequence[str], value: float) -> None:
    """Sets ``msg.a.b.c = value`` for ``attributes`` ``(a, b, c)``."""
    target = msg
    for name in attributes[:-1]:
        target = getattr(target, name)
    setattr(target, attributes[-1], value)


class SensorReader:
    """Validates one message kind and copies the needed values into the observation.

    Subclasses set ``group`` (the source group of the field grammar), ``msg_type`` and
    ``stamped``, and implement :meth:`_extract` (message -> ``self.values``, or a reject reason)
    and :meth:`_fill` (observation -> message, for :meth:`build`).
    """

    group: str = ""
    msg_type: type = object
    stamped = False
    unknown_joints = 0  # accepted messages that carried joints the bundle does not use

    def __init__(self, slots: Sequence[Slot], limits: ReaderLimits) -> None:
        self.index = np.array([i for i, _ in slots], dtype=np.intp)
        self.paths: list[tuple[str, ...]] = [field.path for _, field in slots]
        self.limits = limits
        self.values = np.zeros(len(slots), dtype=np.float64)
        self.last_stamp_ns = 0
        self.last_message_stamp_ns = 0  # stamp of the last accepted message (0: unstamped)

    def read(self, msg: Any, obs: np.ndarray, now_ns: int) -> str | None:
        """Copy the message's values into ``obs``; return ``None``, or why the message was dropped."""
        reason = self._extract(msg)
        if reason is not None:
            return reason
        stamp = 0
        if self.stamped:
            stamp = stamp_ns(msg.header.stamp)
            if self.limits.check_stamps and stamp:  # 0: an unstamped publisher, nothing to check
                if stamp < self.last_stamp_ns:
                    return "out_of_order_stamp"
                if stamp > now_ns + self.limits.stamp_tolerance * 1e9:
                    return "future_stamp"
        # One reduction covers both checks (NaN fails every comparison); the reason is worked out
        # only for a bad message.
        if not np.abs(self.values).max() <= self.limits.max_abs_value:
            return "out_of_range" if np.isfinite(self.values).all() else "non_finite"
        obs[self.index] = self.values
        if stamp and self.limits.check_stamps:
            self.last_stamp_ns = stamp
        self.last_message_stamp_ns = stamp
        return None

    def reset(self) -> None:
        """Accept any stamp order again (the next message starts a new sequence)."""
        self.last_stamp_ns = 0

    def build(self, obs: np.ndarray, stamp: Time) -> Any:
        """The inverse of :meth:`read`: a message carrying ``obs`` (indexed like the bundle's
        observation list) where this reader would look for it; stamped if the kind has a header."""
        msg = self.msg_type()
        self._fill(msg, obs)
        if self.stamped:
            msg.header.stamp = stamp
        return msg

    def _extract(self, msg: Any) -> str | None:  # fills self.values
        raise NotImplementedError

    def _fill(self, msg: Any, obs: np.ndarray) -> None:
        raise NotImplementedError


class FixedFieldReader(SensorReader):
    """Messages of fixed structure (Imu, Odometry, Twist): each path is an attribute chain."""

    @staticmethod
    def attributes(path: tuple[str, ...]) -> tuple[str, ...]:
        """The message attributes a source path names (default: the path itself)."""
        return path

    def __init__(self, slots: Sequence[Slot], limits: ReaderLimits) -> None:
        super().__init__(slots, limits)
        self.chains = [self.attributes(p) for p in self.paths]
        self.getters = [attribute_getter(chain) for chain in self.chains]

    def _extract(self, msg: Any) -> str | None:
        for j, get in enumerate(self.getters):
            self.values[j] = get(msg)
        return None

    def _fill(self, msg: Any, obs: np.ndarray) -> None:
        for chain, i in zip(self.chains, self.index):
            set_attribute(msg, chain, float(obs[i]))


class CommandWriter:
    """Turns a command vector (action order, command units) into one ROS message, and back.

    Subclasses set ``command_type`` (the ``command_type`` parameter value) and ``msg_type``;
    constructing one for targets it cannot carry raises ``ValueError`` saying why.
    """

    command_type: str = ""
    msg_type: type = object

    def __init__(self, targets: Sequence[str], **options: Any) -> None:
        self.targets = [parse_target(t) for t in targets]
        self.groups = {t.group for t in self.targets}

    def make(self, command: np.ndarray, stamp: Time | None = None) -> Any:
        """The message carrying ``command`` (may be a reused instance: publish it before the next call)."""
        raise NotImplementedError

    def read(self, msg: Any, out: np.ndarray) -> None:
        """The inverse of :meth:`make`: the command in ``msg`` into ``out`` (action order).
        A malformed message raises ``KeyError``, ``IndexError``, ``TypeError`` or ``ValueError``."""
        raise NotImplementedError

    def _joint_names(self) -> list[str]:
        """The action joints (``joint/<name>`` targets); ``ValueError`` for any other target."""
        if self.groups != {"joint"}:
            raise ValueError(
                f"command_type '{self.command_type}' carries joint targets only (joint/<name>), but the "
                f"bundle's action targets are {[str(t) for t in self.targets]}"
            )
        return [t.path[0] for t in self.targets]


def joint_order(action_joints: list[str], order: Sequence[str] | None, command_type: str) -> np.ndarray:
    """Index into the command vector for each joint of ``order`` (default: action order)."""
    if not order:
        return np.arange(len(action_joints))
    order = list(order)
    duplicated = sorted({j for j in order if order.count(j) > 1})
    if duplicated:
        raise ValueError(
            f"command_joints lists joint '{duplicated[0]}' {order.count(duplicated[0])} times ({order}); "
            f"each of the bundle's action joints {action_joints} must appear once"
        )
    missing = [j for j in action_joints if j not in order]
    extra = [j for j in order if j not in action_joints]
    if missing or extra or len(set(order)) != len(order):
        raise ValueError(
            f"command_joints {order} must list exactly the bundle's action joints {action_joints} "
            f"(missing: {missing}, not in the bundle: {extra}) for command_type '{command_type}'"
        )
    return np.array([action_joints.index(j) for j in order], dtype=np.intp)


def check_joint_command_field(field: str) -> str:
    """``field`` checked against the JointState fields a joint command may go to."""
    if field not in JOINT_STATE_FIELDS:
        raise ValueError(f"joint_command_field must be one of {JOINT_STATE_FIELDS}, got '{field}'")
    return field
