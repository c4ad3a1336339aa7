"""std_msgs/Float64MultiArray: ``vector/<i>`` sources (``data[i]``), and ``vector/<i>`` or joint
command targets (ros2_control's forward_command_controller)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Float64MultiArray, MultiArrayDimension

from rnn_control.ros.codecs.base import (
    CommandWriter,
    ReaderLimits,
    SensorReader,
    Slot,
    float64_array,
    joint_order,
)


class VectorReader(SensorReader):
    """``vector/<i>`` is ``data[i]``; the message must have exactly ``vector_length`` elements
    (default: the highest index the bundle reads, plus one)."""

    group = "vector"
    msg_type = Float64MultiArray

    def __init__(self, slots: Sequence[Slot], limits: ReaderLimits) -> None:
        super().__init__(slots, limits)
        self.elements = np.array([field.index for _, field in slots], dtype=np.intp)
        self.length = limits.vector_length or int(self.elements.max()) + 1

    def _extract(self, msg: Float64MultiArray) -> str | None:
        data = msg.data
        if len(data) == 0:
            return "empty"
        if len(data) != self.length:
            return "wrong_length"
        self.values[:] = np.asarray(data, dtype=np.float64)[self.elements]
        return None

    def _fill(self, msg: Float64MultiArray, obs: np.ndarray) -> None:
        data = np.zeros(self.length)  # elements the bundle does not read are 0
        data[self.elements] = obs[self.index]
        msg.data = float64_array(data)


class Float64ArrayWriter(CommandWriter):
    """``vector/<i>`` -> ``data[i]``; ``joint/<name>`` -> ``data`` in ``command_joints`` order
    (default: action order), matching forward_command_controller's ``joints`` parameter."""

    command_type = "float64_multi_array"
    msg_type = Float64MultiArray

    def __init__(
        self, targets: Sequence[str], command_joints: Sequence[str] | None = None, **options: Any
    ) -> None:
        super().__init__(targets)
        self._padded: np.ndarray | None = None  # [command, 0] when some elements are unused
        n = len(self.targets)
        if self.groups == {"vector"}:
            elements = [t.index for t in self.targets]
            if len(set(elements)) != len(elements):
                raise ValueError(f"two actions target the same vector element: {elements}")
            self.length = max(elements) + 1
            self.order = np.full(self.length, -1, dtype=np.intp)
            self.order[elements] = np.arange(n)
            if (self.order < 0).any():  # unused elements are sent as 0: gather from [command, 0]
                self.order[self.order < 0] = n
                self._padded = np.zeros(n + 1)
        elif self.groups == {"joint"}:
            self.order = joint_order(self._joint_names(), command_joints, self.command_type)
            self.length = len(self.order)
        else:
            raise ValueError(
                "command_type 'float64_multi_array' needs all action targets to be vector/<i> or all "
                f"joint/<name>; the bundle has {[str(t) for t in self.targets]}"
            )
        # read(): the elements that carry an action (unused ones point past the actions)
        self._used = self.order < n
        self._used_order = self.order[self._used]
        self.msg = Float64MultiArray()
        self.msg.layout.dim = [MultiArrayDimension(label="command", size=self.length, stride=self.length)]

    def make(self, command: np.ndarray, stamp: Time | None = None) -> Float64MultiArray:
        if self._padded is not None:
            self._padded[:-1] = command
            command = self._padded
        self.msg.data = float64_array(command[self.order])
        return self.msg

    def read(self, msg: Float64MultiArray, out: np.ndarray) -> None:
        data = np.asarray(msg.data, dtype=np.float64)
        if data.size != self.length:
            raise ValueError(f"{data.size} elements, expected {self.length}")
        out[self._used_order] = data[self._used]
