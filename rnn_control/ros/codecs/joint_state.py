"""sensor_msgs/JointState: ``joint_state/{position,velocity,effort}/<joint>`` sources, and joint
commands on a joint_command topic (the values go to ``joint_command_field``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import JointState

from rnn_control.ros.codecs.base import (
    CommandWriter,
    ReaderLimits,
    SensorReader,
    Slot,
    check_joint_command_field,
    float64_array,
    joint_order,
)


class JointStateReader(SensorReader):
    """Joints matched by name (any order; extra joints are ignored and counted).

    Robots keep their name layout fixed, so the mapping from the bundle's joints to message indices
    is worked out once per layout and reused while the names repeat.
    """

    group = "joint_state"
    msg_type = JointState
    stamped = True

    def __init__(self, slots: Sequence[Slot], limits: ReaderLimits) -> None:
        super().__init__(slots, limits)
        # path: (field, joint)
        self.fields = sorted({p[0] for p in self.paths})
        self.joints = list(dict.fromkeys(p[1] for p in self.paths))
        self.unknown_joints = 0  # accepted messages that carried joints the bundle does not use
        self.missing_joints: list[str] = []  # needed joints the last message lacked ([] once one has all)
        # per field: positions in self.values; the message indices come from the name layout
        self._slots = {f: np.array([j for j, p in enumerate(self.paths) if p[0] == f]) for f in self.fields}
        self._names: list[str] | None = None  # last valid name layout
        self._copies: list[tuple[str, np.ndarray, np.ndarray]] = []  # (field, value slots, message indices)
        self._extra = False
        # build(): per field, the joint (in self.joints) of each of its slots
        self._joint_of = {
            f: np.array([self.joints.index(self.paths[j][1]) for j in s], dtype=np.intp)
            for f, s in self._slots.items()
        }

    def _layout(self, names: Sequence[str]) -> str | None:
        """Map the bundle's joints to indices of ``names`` (cached while the layout repeats)."""
        n = len(names)
        if n == 0:
            return "empty"
        where = {name: k for k, name in enumerate(names)}
        self._names = None  # until this layout proves good: the next message is mapped afresh
        if len(where) != n:
            return "duplicate_joint"
        if any(j not in where for j in self.joints):
            self.missing_joints = [j for j in self.joints if j not in where]
            return "missing_joint"
        self.missing_joints = []
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

    def _fill(self, msg: JointState, obs: np.ndarray) -> None:
        """The bundle's joints in first-use order; a field no source reads stays empty, a joint a
        field does not list for it is 0."""
        msg.name = self.joints
        for field, slots in self._slots.items():
            values = np.zeros(len(self.joints))
            values[self._joint_of[field]] = obs[self.index[slots]]
            setattr(msg, field, float64_array(values))


class JointStateWriter(CommandWriter):
    """Joint commands as a JointState (names in ``command_joints`` order, default action order)."""

    command_type = "joint_state"
    msg_type = JointState

    def __init__(
        self,
        targets: Sequence[str],
        joint_command_field: str = "position",
        command_joints: Sequence[str] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(targets)
        self.field = check_joint_command_field(joint_command_field)
        joints = self._joint_names()
        self.order = joint_order(joints, command_joints, self.command_type)
        self.msg = JointState()
        self.msg.name = [joints[i] for i in self.order]

    def make(self, command: np.ndarray, stamp: Time | None = None) -> JointState:
        self.msg.header.stamp = stamp or Time()
        setattr(self.msg, self.field, float64_array(command[self.order]))
        return self.msg

    def read(self, msg: JointState, out: np.ndarray) -> None:
        values = dict(zip(msg.name, getattr(msg, self.field)))
        out[self.order] = [values[n] for n in self.msg.name]
