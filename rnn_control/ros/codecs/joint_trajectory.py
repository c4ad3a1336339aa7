"""trajectory_msgs/JointTrajectory: joint commands for a joint_trajectory_controller."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration, Time
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from rnn_control.ros.codecs.base import CommandWriter, check_joint_command_field, float64_array, joint_order

# joint_command_field -> JointTrajectoryPoint field
POINT_FIELDS = {"position": "positions", "velocity": "velocities", "effort": "effort"}


class JointTrajectoryWriter(CommandWriter):
    """One point reached ``time_from_start`` after receipt (header stamp zero: "start when
    received", the joint_trajectory_controller convention); joints in ``command_joints`` order."""

    command_type = "joint_trajectory"
    msg_type = JointTrajectory

    def __init__(
        self,
        targets: Sequence[str],
        joint_command_field: str = "position",
        command_joints: Sequence[str] | None = None,
        time_from_start: float = 0.02,
        **options: Any,
    ) -> None:
        super().__init__(targets)
        self.field = POINT_FIELDS[check_joint_command_field(joint_command_field)]
        joints = self._joint_names()
        self.order = joint_order(joints, command_joints, self.command_type)
        self.msg = JointTrajectory()
        self.msg.joint_names = [joints[i] for i in self.order]
        ns = round(time_from_start * 1e9)
        self.point = JointTrajectoryPoint(time_from_start=Duration(sec=ns // 10**9, nanosec=ns % 10**9))

    def make(self, command: np.ndarray, stamp: Time | None = None) -> JointTrajectory:
        setattr(self.point, self.field, float64_array(command[self.order]))
        self.msg.points = [self.point]
        return self.msg

    def read(self, msg: JointTrajectory, out: np.ndarray) -> None:
        values = dict(zip(msg.joint_names, getattr(msg.points[0], self.field)))
        out[self.order] = [values[n] for n in self.msg.joint_names]
