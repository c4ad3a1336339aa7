"""A simulated robot's sensor messages, as its drivers would publish them.

The sim bridge uses this for joint-space robots (an env with a ``SensorReader``: the
``joint_space`` wrapper on Gymnasium's MuJoCo robots, or a robot built from an MJCF file): one
``sensor_msgs/JointState`` with every joint's position, velocity and effort, and for a
floating-base robot a ``sensor_msgs/Imu`` and a ``nav_msgs/Odometry`` of the base. The fields
the bundle observes carry the environment's observation (so the scenario's sim-to-real wrappers,
noise and latency, reach the node as they reached the policy in training); every other field
carries the simulator's true value. So a node reading these messages builds exactly the
observation the policy was trained on, from messages shaped like a real robot's.

The reader is duck-typed (``sources``, ``blocks``, ``joint_names``, ``index``, ``read(data)``; see
``rnn_control.envs.robots.sensors.SensorReader``): this module imports no simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState

from rnn_control.ros.codecs.base import float64_array

ROBOT_GROUPS = ("joint_state", "imu", "odometry")


class RobotMessageBuilder:
    """JointState / Imu / Odometry from a robot's full sensor reading plus the env's observation."""

    def __init__(self, reader: Any, sources: Sequence[str], base_frame: str = "base_link") -> None:
        self.reader = reader
        self.slots = [(i, reader.index[s]) for i, s in enumerate(sources) if s in reader.index]
        self.obs_index = np.array([i for i, _ in self.slots], dtype=np.intp)
        self.value_index = np.array([k for _, k in self.slots], dtype=np.intp)
        self.floating = "imu/orientation" in reader.blocks
        self.groups = [g for g in ROBOT_GROUPS if g == "joint_state" or self.floating]
        self.base_frame = base_frame
        self.values = np.zeros(len(reader.sources))

    def build(self, data: Any, obs: np.ndarray, stamp: Time) -> dict[str, Any]:
        """``{group: message}`` for the robot's state in ``data``, the observed fields from ``obs``
        (indexed like the bundle's observation list)."""
        v = self.values
        v[:] = self.reader.read(data)
        if self.slots:
            v[self.value_index] = obs[self.obs_index]
        b = self.reader.blocks
        joints = JointState(name=list(self.reader.joint_names))
        joints.header.stamp = stamp
        joints.position = float64_array(v[b["joint_state/position"]])
        joints.velocity = float64_array(v[b["joint_state/velocity"]])
        joints.effort = float64_array(v[b["joint_state/effort"]])
        out: dict[str, Any] = {"joint_state": joints}
        if self.floating:
            out["imu"] = self._imu(v, b, stamp)
            out["odometry"] = self._odometry(v, b, stamp)
        return out

    def _imu(self, v: np.ndarray, b: dict[str, slice], stamp: Time) -> Imu:
        msg = Imu()
        msg.header.stamp, msg.header.frame_id = stamp, self.base_frame
        q = v[b["imu/orientation"]]
        msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w = map(float, q)
        w, a = v[b["imu/angular_velocity"]], v[b["imu/linear_acceleration"]]
        msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = map(float, w)
        msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = map(float, a)
        return msg

    def _odometry(self, v: np.ndarray, b: dict[str, slice], stamp: Time) -> Odometry:
        msg = Odometry()
        msg.header.stamp, msg.header.frame_id, msg.child_frame_id = stamp, "odom", self.base_frame
        pose, twist = msg.pose.pose, msg.twist.twist
        pose.position.x, pose.position.y, pose.position.z = map(float, v[b["odometry/pose/position"]])
        q = v[b["odometry/pose/orientation"]]
        pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = map(float, q)
        twist.linear.x, twist.linear.y, twist.linear.z = map(float, v[b["odometry/twist/linear"]])
        twist.angular.x, twist.angular.y, twist.angular.z = map(float, v[b["odometry/twist/angular"]])
        return msg
