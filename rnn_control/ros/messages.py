"""ROS messages <-> named float slots.

Sensor side: one :class:`SensorReader` per source group of the bundle's observation layout
(``joint_state``, ``imu``, ``odometry``, ``twist``, ``vector``; see ``rnn_control.runtime``
for the grammar). A reader checks a message and, only if it is good, copies the fields the
bundle needs into the observation vector. A bad message is dropped and the reason returned
(never raised), so one malformed message can neither crash a node nor half-update an
observation.

Command side: one :class:`CommandWriter` per supported command message (``float64_multi_array``
for ros2_control's forward_command_controller, ``joint_state`` on a joint_command topic,
``joint_trajectory``, ``twist``); constructing one for targets it cannot carry raises
``ValueError`` saying why.
"""

from __future__ import annotations

import array
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from rnn_control.contract.fields import parse_source, parse_target

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

SENSOR_MSG_TYPES: dict[str, type] = {
    "joint_state": JointState,
    "imu": Imu,
    "odometry": Odometry,
    "twist": Twist,
    "vector": Float64MultiArray,
}

COMMAND_TYPES: dict[str, type] = {
    "float64_multi_array": Float64MultiArray,
    "joint_state": JointState,
    "joint_trajectory": JointTrajectory,
    "twist": Twist,
}
JOINT_FIELDS = ("position", "velocity", "effort")


@dataclass
class ReaderLimits:
    """Validation settings shared by every reader (node parameters of the same names)."""

    max_abs_value: float = 1e6  # larger magnitudes are treated as sensor faults
    stamp_tolerance: float = 0.5  # seconds a stamp may lie ahead of the node's clock
    check_stamps: bool = True
    vector_length: int = 0  # required Float64MultiArray length; 0: highest used index + 1


def stamp_ns(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def time_msg(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def float64_array(values: np.ndarray) -> array.array:
    """``values`` as the ``array.array('d')`` that rosidl float64[] fields store: the setter takes it
    as is, where a list is type- and range-checked element by element."""
    out = array.array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


def group_sources(sources: Sequence[str]) -> dict[str, list[tuple[int, tuple[str, ...]]]]:
    """Observation sources by group: ``{group: [(observation index, path), ...]}`` in first-use order."""
    groups: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for i, text in enumerate(sources):
        s = parse_source(text)
        groups.setdefault(s.group, []).append((i, tuple(s.path)))
    return groups


class SensorReader:
    """Validates one message kind and copies the needed values into the observation."""

    msg_type: type = object
    stamped = False

    def __init__(self, slots: Sequence[tuple[int, tuple[str, ...]]], limits: ReaderLimits) -> None:
        self.index = np.array([i for i, _ in slots], dtype=np.intp)
        self.paths = [p for _, p in slots]
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
        self.last_stamp_ns = 0

    def _extract(self, msg: Any) -> str | None:  # fills self.values
        raise NotImplementedError


class JointStateReader(SensorReader):
    """sensor_msgs/JointState, joints matched by name (any order; extra joints are ignored)."""

    msg_type = JointState
    stamped = True

    def __init__(self, slots, limits) -> None:
        super().__init__(slots, limits)
        self.fields = sorted({p[0] for p in self.paths})
        self.joints = list(dict.fromkeys(p[1] for p in self.paths))
        self.unknown_joints = 0  # accepted messages that carried joints the bundle does not use
        # per field: positions in self.values; the message indices come from the name layout
        self._slots = {f: np.array([j for j, p in enumerate(self.paths) if p[0] == f]) for f in self.fields}
        self._names: list[str] | None = None  # last valid name layout (robots keep theirs fixed)
        self._copies: list[tuple[str, np.ndarray, np.ndarray]] = []  # (field, value slots, message indices)
        self._extra = False

    def _layout(self, names: Sequence[str]) -> str | None:
        """Map the bundle's joints to indices of ``names`` (cached while the layout repeats)."""
        n = len(names)
        if n == 0:
            return "empty"
        where = {name: k for k, name in enumerate(names)}
        if len(where) != n:
            return "duplicate_joint"
        if any(j not in where for j in self.joints):
            return "missing_joint"
        self._copies = [
            (f, self._slots[f], np.array([where[p[1]] for p in self.paths if p[0] == f], dtype=np.intp))
            for f in self.fields
        ]
        self._names = list(names)
        self._extra = n > len(self.joints)
        return None

    def _extract(self, msg: JointState) -> str | None:
        names = msg.name
        if names != self._names:
            reason = self._layout(names)
            if reason is not None:
                return reason
        n = len(names)
        values = self.values
        for field, slots, index in self._copies:
            data = getattr(msg, field)
            if len(data) != n:
                return "wrong_length"
            values[slots] = np.asarray(data, dtype=np.float64)[index]
        if self._extra:
            self.unknown_joints += 1
        return None


class FixedFieldReader(SensorReader):
    """Messages of fixed structure (Imu, Odometry, Twist): each path is an attribute chain."""

    prefix = ""

    def __init__(self, slots, limits) -> None:
        super().__init__(slots, limits)
        self.getters: list[Callable[[Any], float]] = [
            operator.attrgetter(self.prefix + self.attr_path(p)) for p in self.paths
        ]

    def attr_path(self, path: tuple[str, ...]) -> str:
        return ".".join(path)

    def _extract(self, msg: Any) -> str | None:
        for j, get in enumerate(self.getters):
            self.values[j] = get(msg)
        return None


class ImuReader(FixedFieldReader):
    msg_type = Imu
    stamped = True

    def __init__(self, slots, limits) -> None:
        super().__init__(slots, limits)
        self.needs_orientation = any(p[0] == "orientation" for p in self.paths)

    def _extract(self, msg: Imu) -> str | None:
        if self.needs_orientation and msg.orientation_covariance[0] == -1.0:
            return "missing_field"  # REP 145: the driver provides no orientation
        return super()._extract(msg)


class OdometryReader(FixedFieldReader):
    msg_type = Odometry
    stamped = True

    def attr_path(self, path: tuple[str, ...]) -> str:
        # odometry/pose/position/x -> pose.pose.position.x ; odometry/twist/linear/x -> twist.twist.linear.x
        return ".".join((path[0], *path))


class TwistReader(FixedFieldReader):
    msg_type = Twist


class VectorReader(SensorReader):
    """std_msgs/Float64MultiArray: ``vector/<i>`` is ``data[i]``."""

    msg_type = Float64MultiArray

    def __init__(self, slots, limits) -> None:
        super().__init__(slots, limits)
        self.elements = np.array([int(p[0]) for p in self.paths], dtype=np.intp)
        self.length = limits.vector_length or int(self.elements.max()) + 1

    def _extract(self, msg: Float64MultiArray) -> str | None:
        data = msg.data
        if len(data) == 0:
            return "empty"
        if len(data) != self.length:
            return "wrong_length"
        self.values[:] = np.asarray(data, dtype=np.float64)[self.elements]
        return None


READERS: dict[str, type[SensorReader]] = {
    "joint_state": JointStateReader,
    "imu": ImuReader,
    "odometry": OdometryReader,
    "twist": TwistReader,
    "vector": VectorReader,
}


class ObservationAssembler:
    """The observation vector, kept up to date from sensor messages and the node's own commands.

    ``groups`` are the sensor groups the bundle reads (one subscription each); ``last_action``
    slots are filled by :meth:`set_last_action`.
    """

    def __init__(self, sources: Sequence[str], limits: ReaderLimits | None = None) -> None:
        self.limits = limits or ReaderLimits()
        by_group = group_sources(sources)
        self.obs = np.zeros(len(sources), dtype=np.float64)
        feedback = by_group.pop("last_action", [])
        self.feedback_index = np.array([i for i, _ in feedback], dtype=np.intp)
        self.feedback_element = np.array([int(p[0]) for _, p in feedback], dtype=np.intp)
        self.readers: dict[str, SensorReader] = {g: READERS[g](s, self.limits) for g, s in by_group.items()}
        self.groups = list(self.readers)
        self.rejected: dict[str, int] = dict.fromkeys(REJECT_REASONS, 0)
        self.accepted: dict[str, int] = dict.fromkeys(self.groups, 0)
        self.last_fresh: dict[str, float | None] = dict.fromkeys(self.groups)
        self._ready = not self.groups

    def on_message(self, group: str, msg: Any, now_ns: int, monotonic: float) -> bool:
        """Validate and apply one message; ``False`` (and a counted reason) if it was dropped."""
        reason = self.readers[group].read(msg, self.obs, now_ns)
        if reason is not None:
            self.rejected[reason] += 1
            return False
        self.accepted[group] += 1
        self.last_fresh[group] = monotonic
        return True

    def set_last_action(self, command: np.ndarray) -> None:
        if self.feedback_index.size:
            self.obs[self.feedback_index] = np.asarray(command, dtype=np.float64)[self.feedback_element]

    def ready(self) -> bool:
        """Every group has delivered at least one good message."""
        if not self._ready:
            self._ready = all(t is not None for t in self.last_fresh.values())
        return self._ready

    def stale_groups(self, monotonic: float, max_age: float) -> list[str]:
        """Groups without a good message for more than ``max_age`` seconds (or never)."""
        if self.ready() and monotonic - min(self.last_fresh.values(), default=monotonic) <= max_age:
            return []  # the per-tick answer, in one comparison
        return [g for g, t in self.last_fresh.items() if t is None or monotonic - t > max_age]

    def forget(self) -> None:
        """Require fresh data from every group again (and accept any stamp order)."""
        self.last_fresh = dict.fromkeys(self.groups)
        self._ready = not self.groups
        for r in self.readers.values():
            r.reset()

    @property
    def unknown_joints(self) -> int:
        r = self.readers.get("joint_state")
        return r.unknown_joints if isinstance(r, JointStateReader) else 0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


# ----------------------------------------------------------------------------------- commands


class CommandWriter:
    """Turns a command vector (action order, command units) into one ROS message."""

    msg_type: type = object

    def __init__(self, targets: Sequence[str], **options: Any) -> None:
        self.targets = [parse_target(t) for t in targets]
        self.groups = {t.group for t in self.targets}

    def make(self, command: np.ndarray, stamp: Time | None = None) -> Any:
        raise NotImplementedError

    def _joint_names(self, what: str) -> list[str]:
        if self.groups != {"joint"}:
            raise ValueError(
                f"command_type '{what}' carries joint targets only (joint/<name>), but the bundle's "
                f"action targets are {[str(t) for t in self.targets]}"
            )
        return [t.path[0] for t in self.targets]


def _joint_order(action_joints: list[str], order: Sequence[str] | None, what: str) -> np.ndarray:
    """Index into the command vector for each joint of ``order`` (default: action order)."""
    if not order:
        return np.arange(len(action_joints))
    order = list(order)
    missing = [j for j in action_joints if j not in order]
    extra = [j for j in order if j not in action_joints]
    if missing or extra or len(set(order)) != len(order):
        raise ValueError(
            f"command_joints {order} must list exactly the bundle's action joints {action_joints} "
            f"(missing: {missing}, not in the bundle: {extra}) for command_type '{what}'"
        )
    return np.array([action_joints.index(j) for j in order], dtype=np.intp)


class Float64ArrayWriter(CommandWriter):
    """std_msgs/Float64MultiArray: ``vector/<i>`` -> ``data[i]``; ``joint/<name>`` -> ``data`` in
    ``command_joints`` order (default: action order), matching forward_command_controller's
    ``joints`` parameter."""

    msg_type = Float64MultiArray

    def __init__(self, targets, command_joints: Sequence[str] | None = None, **options) -> None:
        super().__init__(targets)
        self._padded: np.ndarray | None = None  # [command, 0] when some elements are unused
        if self.groups == {"vector"}:
            elements = [int(t.path[0]) for t in self.targets]
            if len(set(elements)) != len(elements):
                raise ValueError(f"two actions target the same vector element: {elements}")
            self.length = max(elements) + 1
            self.order = np.full(self.length, -1, dtype=np.intp)
            self.order[elements] = np.arange(len(elements))
            if (self.order < 0).any():  # unused elements are sent as 0: gather from [command, 0]
                self.order[self.order < 0] = len(elements)
                self._padded = np.zeros(len(elements) + 1)
        elif self.groups == {"joint"}:
            self.order = _joint_order(self._joint_names("float64_multi_array"), command_joints,
                                      "float64_multi_array")  # fmt: skip
            self.length = len(self.order)
        else:
            raise ValueError(
                "command_type 'float64_multi_array' needs all action targets to be vector/<i> or all "
                f"joint/<name>; the bundle has {[str(t) for t in self.targets]}"
            )
        self.msg = Float64MultiArray()
        self.msg.layout.dim = [MultiArrayDimension(label="command", size=self.length, stride=self.length)]

    def make(self, command: np.ndarray, stamp: Time | None = None) -> Float64MultiArray:
        if self._padded is not None:
            self._padded[:-1] = command
            command = self._padded
        self.msg.data = float64_array(command[self.order])
        return self.msg


class JointStateWriter(CommandWriter):
    """sensor_msgs/JointState on a joint_command topic; values go to ``joint_command_field``."""

    msg_type = JointState

    def __init__(
        self, targets, joint_command_field: str = "position", command_joints=None, **options
    ) -> None:
        super().__init__(targets)
        if joint_command_field not in JOINT_FIELDS:
            raise ValueError(
                f"joint_command_field must be one of {JOINT_FIELDS}, got '{joint_command_field}'"
            )
        joints = self._joint_names("joint_state")
        self.order = _joint_order(joints, command_joints, "joint_state")
        self.field = joint_command_field
        self.msg = JointState()
        self.msg.name = [joints[i] for i in self.order]

    def make(self, command: np.ndarray, stamp: Time | None = None) -> JointState:
        self.msg.header.stamp = stamp or Time()
        setattr(self.msg, self.field, float64_array(command[self.order]))
        return self.msg


class JointTrajectoryWriter(CommandWriter):
    """trajectory_msgs/JointTrajectory with one point reached ``time_from_start`` after receipt
    (header stamp zero: "start when received", the joint_trajectory_controller convention)."""

    msg_type = JointTrajectory

    def __init__(self, targets, joint_command_field: str = "position", command_joints=None,
                 time_from_start: float = 0.02, **options) -> None:  # fmt: skip
        super().__init__(targets)
        if joint_command_field not in JOINT_FIELDS:
            raise ValueError(
                f"joint_command_field must be one of {JOINT_FIELDS}, got '{joint_command_field}'"
            )
        joints = self._joint_names("joint_trajectory")
        self.order = _joint_order(joints, command_joints, "joint_trajectory")
        self.field = {"position": "positions", "velocity": "velocities", "effort": "effort"}[
            joint_command_field
        ]
        self.msg = JointTrajectory()
        self.msg.joint_names = [joints[i] for i in self.order]
        ns = round(time_from_start * 1e9)
        self.point = JointTrajectoryPoint(time_from_start=Duration(sec=ns // 10**9, nanosec=ns % 10**9))

    def make(self, command: np.ndarray, stamp: Time | None = None) -> JointTrajectory:
        setattr(self.point, self.field, float64_array(command[self.order]))
        self.msg.points = [self.point]
        return self.msg


class TwistWriter(CommandWriter):
    """geometry_msgs/Twist: ``twist/{linear,angular}/{x,y,z}``; unused components are 0."""

    msg_type = Twist

    def __init__(self, targets, **options) -> None:
        super().__init__(targets)
        if self.groups != {"twist"}:
            raise ValueError(
                "command_type 'twist' carries twist/{linear,angular}/{x,y,z} targets only, but the "
                f"bundle's action targets are {[str(t) for t in self.targets]}"
            )
        self.paths = [tuple(t.path) for t in self.targets]

    def make(self, command: np.ndarray, stamp: Time | None = None) -> Twist:
        msg = Twist()
        for (part, axis), value in zip(self.paths, command):
            setattr(getattr(msg, part), axis, float(value))
        return msg


WRITERS: dict[str, type[CommandWriter]] = {
    "float64_multi_array": Float64ArrayWriter,
    "joint_state": JointStateWriter,
    "joint_trajectory": JointTrajectoryWriter,
    "twist": TwistWriter,
}


def make_writer(command_type: str, targets: Sequence[str], **options: Any) -> CommandWriter:
    """The writer for ``command_type``; ``ValueError`` naming the problem if it cannot carry ``targets``."""
    if command_type not in WRITERS:
        raise ValueError(f"command_type '{command_type}' is not one of {', '.join(WRITERS)}")
    return WRITERS[command_type](targets, **options)


# ------------------------------------------------------------------ command messages -> vector


class CommandReader:
    """The inverse of a :class:`CommandWriter` (used by the sim bridge and the dynamics monitor):
    a command message -> command vector in action order, or ``None`` if it is malformed."""

    def __init__(self, command_type: str, targets: Sequence[str], **options: Any) -> None:
        self.writer = make_writer(command_type, targets, **options)
        self.msg_type = self.writer.msg_type
        self.command_type = command_type
        self.out = np.zeros(len(targets), dtype=np.float64)

    def read(self, msg: Any) -> np.ndarray | None:
        w = self.writer
        try:
            if isinstance(w, Float64ArrayWriter):
                data = np.asarray(msg.data, dtype=np.float64)
                if data.size != w.length:
                    return None
                ok = w.order < self.out.size  # unused elements point past the actions
                self.out[w.order[ok]] = data[ok]
            elif isinstance(w, JointStateWriter):
                values = dict(zip(msg.name, getattr(msg, w.field)))
                self.out[w.order] = [values[n] for n in w.msg.name]
            elif isinstance(w, JointTrajectoryWriter):
                values = dict(zip(msg.joint_names, getattr(msg.points[0], w.field)))
                self.out[w.order] = [values[n] for n in w.msg.joint_names]
            else:
                for k, (part, axis) in enumerate(w.paths):
                    self.out[k] = getattr(getattr(msg, part), axis)
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        if not np.isfinite(self.out).all():
            return None
        return self.out.copy()


# --------------------------------------------------------------- observation -> sensor messages


class SensorMessageBuilder:
    """The inverse of the readers (used by the sim bridge): observation values -> one message per
    sensor group, laid out exactly as the bundle's sources say. ``last_action`` slots are skipped
    (the policy node fills them from its own command)."""

    def __init__(self, sources: Sequence[str], vector_length: int = 0) -> None:
        self.by_group = group_sources(sources)
        self.by_group.pop("last_action", None)
        self.groups = list(self.by_group)
        js = self.by_group.get("joint_state", [])
        self.joints = list(dict.fromkeys(p[1] for _, p in js))
        elements = [int(p[0]) for _, p in self.by_group.get("vector", [])]
        self.vector_length = vector_length or (max(elements) + 1 if elements else 0)

    def build(self, obs: np.ndarray, stamp: Time) -> dict[str, Any]:
        """``{group: message}`` carrying ``obs`` (indexed like the bundle's observation list)."""
        out: dict[str, Any] = {}
        for group, slots in self.by_group.items():
            if group == "joint_state":
                msg = JointState(name=self.joints)
                arrays: dict[str, list[float]] = {}
                for i, (field, joint) in slots:
                    arrays.setdefault(field, [0.0] * len(self.joints))[self.joints.index(joint)] = float(
                        obs[i]
                    )
                for field, values in arrays.items():
                    setattr(msg, field, values)
            elif group == "vector":
                data = [0.0] * self.vector_length
                for i, (element,) in slots:
                    data[int(element)] = float(obs[i])
                msg = Float64MultiArray(data=data)
            else:
                msg = SENSOR_MSG_TYPES[group]()
                for i, path in slots:
                    attrs = (path[0], *path) if group == "odometry" else path
                    target = msg
                    for a in attrs[:-1]:
                        target = getattr(target, a)
                    setattr(target, attrs[-1], float(obs[i]))
            if hasattr(msg, "header"):
                msg.header.stamp = stamp
            out[group] = msg
        return out
