"""Field grammar -> values of decoded bag messages: the one place the bag reader maps message
members to ``joint_state/position/<joint>``, ``imu/...``, ``vector/<i>``, ``joint/<joint>``, ...

The messages come from rosbags (plain dataclasses, arrays as numpy), not from rclpy, so the ROS
codecs (:mod:`rnn_control.ros.codecs`) cannot be reused; the grammar is the same one
(:mod:`rnn_control.contract.fields` parses every field), and a field maps to the same message
member here as there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnn_control.contract.fields import FieldPath, parse_source, parse_target
from rnn_control.errors import BagError

JOINT_STATE = "sensor_msgs/msg/JointState"
TWISTS = ("geometry_msgs/msg/Twist", "geometry_msgs/msg/TwistStamped")
ARRAYS = ("std_msgs/msg/Float64MultiArray", "std_msgs/msg/Float32MultiArray")
TRAJECTORY = "trajectory_msgs/msg/JointTrajectory"

SOURCE_TYPES: dict[str, tuple[str, ...]] = {
    "joint_state": (JOINT_STATE,),
    "imu": ("sensor_msgs/msg/Imu",),
    "odometry": ("nav_msgs/msg/Odometry",),
    "twist": TWISTS,
    "vector": ARRAYS,
}
"""Source group -> the message types that carry it."""

TARGET_TYPES: dict[str, tuple[str, ...]] = {
    "vector": ARRAYS,
    "twist": TWISTS,
    "joint": (JOINT_STATE, TRAJECTORY, *ARRAYS),
}
"""Target group -> the message types a command for it may be recorded as."""

POINT_MEMBERS = {"position": "positions", "velocity": "velocities", "effort": "effort"}

Getter = Callable[[Any], float]


@dataclass(frozen=True)
class Slot:
    """One value to read: the field (source or target grammar) and how a joint command is carried."""

    text: str
    is_target: bool = False
    command_field: str = "position"
    joints: tuple[str, ...] | None = None

    @property
    def path(self) -> FieldPath:
        return parse_target(self.text) if self.is_target else parse_source(self.text)


class _Names:
    """Index of a joint in a message's name list, re-mapped only when the list changes."""

    def __init__(self) -> None:
        self.names: list[str] | None = None
        self.where: dict[str, int] = {}

    def index(self, names: list[str], joint: str) -> int:
        if names != self.names:
            self.names = list(names)
            self.where = {n: k for k, n in enumerate(names)}
        return self.where[joint]


def _attr(*chain: str) -> Getter:
    def get(msg: Any) -> float:
        for name in chain:
            msg = getattr(msg, name)
        return float(msg)

    return get


def _getter(slot: Slot, msgtype: str) -> Getter:
    """How ``slot`` is read from a ``msgtype`` message (``BagError`` if that type cannot carry it)."""
    path = slot.path
    group, rest = path.group, path.path
    if group == "joint_state":
        names, member, joint = _Names(), rest[0], rest[1]
        return lambda m: float(getattr(m, member)[names.index(m.name, joint)])
    if group == "imu":
        return _attr(*rest)
    if group == "odometry":  # odometry/pose/position/x -> pose.pose.position.x
        return _attr(rest[0], rest[0], *rest[1:])
    if group == "twist":
        return _attr("twist", *rest) if msgtype.endswith("TwistStamped") else _attr(*rest)
    if group == "vector":
        i = path.index
        return lambda m: float(m.data[i])
    if group == "joint":
        joint = rest[0]
        if msgtype == JOINT_STATE:
            names, member = _Names(), slot.command_field
            return lambda m: float(getattr(m, member)[names.index(m.name, joint)])
        if msgtype == TRAJECTORY:
            names, member = _Names(), POINT_MEMBERS[slot.command_field]
            return lambda m: float(getattr(m.points[0], member)[names.index(m.joint_names, joint)])
        if not slot.joints:
            raise BagError(
                f"{slot.text}: a {msgtype} command carries no joint names; give the "
                "controller's joint order as 'joints: [...]' in the bag's action entry"
            )
        if joint not in slot.joints:
            raise BagError(f"{slot.text}: joint '{joint}' is not in the entry's joints {list(slot.joints)}")
        i = slot.joints.index(joint)
        return lambda m: float(m.data[i])
    raise BagError(f"{slot.text}: a field of group '{group}' cannot be read from a bag")


def describe(msg: Any) -> str:
    """What a message offers, for the error naming a field it lacks."""
    if hasattr(msg, "name") and hasattr(msg, "position"):
        return (
            f"joints {list(msg.name)}, {len(msg.position)} positions, {len(msg.velocity)} "
            f"velocities, {len(msg.effort)} efforts"
        )
    if hasattr(msg, "joint_names"):
        return f"joints {list(msg.joint_names)}, {len(msg.points)} points"
    if hasattr(msg, "data"):
        return f"{len(msg.data)} data elements"
    return type(msg).__name__


class _Gather:
    """The fast path for slots read by index from arrays: one name lookup per message layout,
    then one fancy index per array member (``joint_state/position/<j>`` x N joints, ``vector/<i>``)."""

    def __init__(self, names: Callable[[Any], list[str]] | None, container: Callable[[Any], Any]) -> None:
        self.names_of, self.container = names, container
        self.members: dict[str, list[tuple[int, str | int]]] = {}  # member -> [(column, joint | index)]
        self.layout: list[str] | None = None
        self.plan: list[tuple[str, np.ndarray, np.ndarray]] = []

    def add(self, member: str, column: int, key: str | int) -> None:
        self.members.setdefault(member, []).append((column, key))
        self.layout = None

    def _plan(self, names: list[str] | None) -> None:
        where = {n: k for k, n in enumerate(names)} if names is not None else {}
        self.plan = [
            (
                m,
                np.array([c for c, _ in cols]),
                np.array([where[k] if names is not None else k for _, k in cols], dtype=np.intp),
            )
            for m, cols in self.members.items()
        ]
        self.layout = list(names) if names is not None else []

    def __call__(self, msg: Any, out: np.ndarray) -> None:
        names = self.names_of(msg) if self.names_of is not None else None
        if self.layout is None or (names is not None and names != self.layout):
            self._plan(names)
        obj = self.container(msg)
        for member, cols, idx in self.plan:
            out[cols] = np.asarray(getattr(obj, member), dtype=np.float64)[idx]


def _gatherer(slot: Slot, msgtype: str) -> tuple[str, Callable, Callable, str, str | int] | None:
    """(kind, names-of, container-of, member, key) when ``slot`` can be gathered by index."""
    path = slot.path
    if path.group == "joint_state":
        return "names", lambda m: m.name, lambda m: m, path.path[0], path.path[1]
    if path.group == "vector":
        return "index", None, lambda m: m, "data", path.index
    if path.group == "joint":
        joint = path.path[0]
        if msgtype == JOINT_STATE:
            return "names", lambda m: m.name, lambda m: m, slot.command_field, joint
        if msgtype == TRAJECTORY:
            return (
                "traj",
                lambda m: m.joint_names,
                lambda m: m.points[0],
                POINT_MEMBERS[slot.command_field],
                joint,
            )
        if slot.joints and joint in slot.joints:
            return "index", None, lambda m: m, "data", slot.joints.index(joint)
    return None


class TopicExtractor:
    """Reads the slots one topic carries from each of its messages into a vector.

    A message that lacks a slot (a joint not in its names, an index past its data) is skipped
    and counted per slot in :attr:`missing`; :meth:`check` turns "missing from every message"
    into a :class:`BagError`.
    """

    def __init__(self, topic: str, msgtype: str, slots: Sequence[Slot]) -> None:
        self.topic = topic
        self.msgtype = msgtype
        self.slots = list(slots)
        for slot in self.slots:
            allowed = (TARGET_TYPES if slot.is_target else SOURCE_TYPES)[slot.path.group]
            if msgtype not in allowed:
                raise BagError(
                    f"topic {topic} carries {msgtype}, but {slot.text} is read from "
                    f"{' or '.join(allowed)}; map the field to another topic"
                )
        self.getters = [_getter(s, msgtype) for s in self.slots]
        gathers: dict[str, _Gather] = {}
        self.scalars: list[tuple[int, Getter]] = []
        for column, (slot, getter) in enumerate(zip(self.slots, self.getters)):
            how = _gatherer(slot, msgtype)
            if how is None:
                self.scalars.append((column, getter))
                continue
            kind, names, container, member, key = how
            gathers.setdefault(kind, _Gather(names, container)).add(member, column, key)
        self.gathers = list(gathers.values())
        self.stamped = msgtype not in ("geometry_msgs/msg/Twist", *ARRAYS, TRAJECTORY)
        self.missing = [0] * len(self.slots)
        self.example: str = ""  # a message that lacked a slot, described
        self.read_count = 0

    def read(self, msg: Any) -> np.ndarray | None:
        """The slots' values of ``msg`` (float64), or ``None`` if it lacks one."""
        self.read_count += 1
        out = np.empty(len(self.slots))
        try:
            for gather in self.gathers:
                gather(msg, out)
            for column, getter in self.scalars:
                out[column] = getter(msg)
            return out
        except (KeyError, IndexError, AttributeError, TypeError, ValueError):
            for k, g in enumerate(self.getters):
                try:
                    g(msg)
                except (KeyError, IndexError, AttributeError, TypeError, ValueError):
                    self.missing[k] += 1
                    if not self.example:
                        self.example = describe(msg)
            return None

    def stamp(self, msg: Any) -> int:
        """The header stamp of ``msg`` in ns."""
        s = msg.header.stamp
        return int(s.sec) * 1_000_000_000 + int(s.nanosec)

    def check(self) -> None:
        """``BagError`` naming a slot that no message of the topic carried."""
        for slot, missing in zip(self.slots, self.missing):
            if self.read_count and missing == self.read_count:
                raise BagError(
                    f"{slot.text}: missing from all {missing} messages on {self.topic} ({self.msgtype}); "
                    f"they carry {self.example}"
                )
