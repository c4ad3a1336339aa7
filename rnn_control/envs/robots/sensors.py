"""What a real robot's drivers publish, read from a MuJoCo simulation.

One reading is a flat float64 vector; :attr:`SensorReader.sources` names every entry with its
field-grammar source (``rnn_control.contract.fields``), and :attr:`SensorReader.blocks` gives the
slice of each message part, in the order a ROS message carries it:

=================================  ==============================================================
block                              entries
=================================  ==============================================================
``joint_state/position``           every robot joint (``RobotModel.joint_names`` order), rad or m
``joint_state/velocity``           rad/s or m/s
``joint_state/effort``             the actuators' force on the joint (``qfrc_actuator``), N*m or N
``imu/orientation``                x, y, z, w: the base's orientation in the world frame
``imu/angular_velocity``           x, y, z in the base frame (a gyro), rad/s
``imu/linear_acceleration``        x, y, z in the base frame, *as an accelerometer measures it*:
                                   the specific force, gravity included (+9.81 up at rest), m/s^2
``odometry/pose/position``         x, y, z of the base in the world frame, m
``odometry/pose/orientation``      x, y, z, w (as the IMU's)
``odometry/twist/linear``          x, y, z velocity of the base origin in the base frame, m/s
``odometry/twist/angular``         x, y, z in the base frame, rad/s
=================================  ==============================================================

A fixed-base robot (an arm bolted to the world) has no IMU or odometry: only the joint blocks.

Timing: joint positions and velocities are the simulator state after the last step; the effort
and the base quantities come from MuJoCo's derived fields (``qfrc_actuator``, ``xquat``, ``cvel``,
``cacc``), i.e. from the last ``mj_forward`` inside ``mj_step``, exactly what MuJoCo's own
``gyro``/``accelerometer``/``framequat`` sensors report. The accelerometer needs ``data.cacc``:
Gymnasium's MuJoCo envs and :class:`~rnn_control.envs.robots.joint_env.JointSpaceEnv` call
``mj_rnePostConstraint`` after stepping; call it yourself after a bare ``mj_step``.

For a sim bridge publishing JointState / Imu / Odometry like a robot::

    reader = sensor_reader(env)                       # once: the env's own reader, or a new one
    values = reader.read(env.unwrapped.data)          # every tick: no allocation, ~7 us
    position = values[reader.blocks["joint_state/position"]]    # names: reader.joint_names
    quat_xyzw = values[reader.blocks["imu/orientation"]]
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from rnn_control.contract.fields import XYZ, XYZW
from rnn_control.envs.robots.mjcf import RobotModel
from rnn_control.errors import ConfigError

JOINT_BLOCKS = ("joint_state/position", "joint_state/velocity", "joint_state/effort")
BASE_BLOCKS = (
    ("imu/orientation", XYZW),
    ("imu/angular_velocity", XYZ),
    ("imu/linear_acceleration", XYZ),
    ("odometry/pose/position", XYZ),
    ("odometry/pose/orientation", XYZW),
    ("odometry/twist/linear", XYZ),
    ("odometry/twist/angular", XYZ),
)


class SensorReader:
    """Reads every sensor of ``robot`` from an ``MjData`` into one preallocated vector."""

    def __init__(self, robot: RobotModel) -> None:
        self.robot = robot
        self.model = robot.model
        self.joint_names: list[str] = robot.joint_names
        self.sources: list[str] = []
        self.blocks: dict[str, slice] = {}
        for block in JOINT_BLOCKS:
            self._add(block, self.joint_names)
        if robot.floating:
            for block, leaves in BASE_BLOCKS:
                self._add(block, leaves)
        self.index: dict[str, int] = {s: i for i, s in enumerate(self.sources)}
        self.values = np.zeros(len(self.sources))
        self._qpos = np.array([j.qpos_adr for j in robot.joints], dtype=np.intp)
        self._dof = np.array([j.dof_adr for j in robot.joints], dtype=np.intp)
        self._base = robot.base_body_id
        self._vel = np.zeros(6)
        self._acc = np.zeros(6)

    def _add(self, block: str, leaves: list[str] | tuple[str, ...]) -> None:
        start = len(self.sources)
        self.sources += [f"{block}/{leaf}" for leaf in leaves]
        self.blocks[block] = slice(start, len(self.sources))

    def read(self, data: mujoco.MjData) -> np.ndarray:
        """Fill and return :attr:`values` (the same array every call: copy it to keep a reading)."""
        v, b = self.values, self.blocks
        v[b["joint_state/position"]] = data.qpos[self._qpos]
        v[b["joint_state/velocity"]] = data.qvel[self._dof]
        v[b["joint_state/effort"]] = data.qfrc_actuator[self._dof]
        if self.robot.floating:
            m, body = self.model, self._base
            quat = data.xquat[body]  # w, x, y, z
            mujoco.mj_objectVelocity(m, data, mujoco.mjtObj.mjOBJ_XBODY, body, self._vel, 1)
            mujoco.mj_objectAcceleration(m, data, mujoco.mjtObj.mjOBJ_XBODY, body, self._acc, 1)
            for block in ("imu/orientation", "odometry/pose/orientation"):
                s = b[block]
                v[s.start : s.start + 3] = quat[1:]
                v[s.start + 3] = quat[0]
            v[b["imu/angular_velocity"]] = self._vel[:3]
            v[b["imu/linear_acceleration"]] = self._acc[3:]
            v[b["odometry/pose/position"]] = data.xpos[body]
            v[b["odometry/twist/linear"]] = self._vel[3:]
            v[b["odometry/twist/angular"]] = self._vel[:3]
        return v

    def as_dict(self, values: np.ndarray | None = None) -> dict[str, float]:
        """``{source: value}`` of a reading (default: the last one)."""
        values = self.values if values is None else values
        return {s: float(x) for s, x in zip(self.sources, values)}


def sensor_reader(env: Any) -> SensorReader:
    """The :class:`SensorReader` of a (wrapped) MuJoCo env: the one its ``joint_space`` wrapper or
    :class:`~rnn_control.envs.robots.joint_env.JointSpaceEnv` reads its observation with, else a
    new one for ``env.unwrapped.model`` (``ConfigError`` if that is no robot, e.g. no actuators)."""
    try:
        return env.get_wrapper_attr("reader")
    except AttributeError:
        pass
    model = getattr(env.unwrapped, "model", None)
    if not isinstance(model, mujoco.MjModel):
        raise ConfigError(f"{type(env.unwrapped).__name__} is not a MuJoCo env: it has no robot sensors")
    name = env.spec.id if getattr(env, "spec", None) is not None else type(env.unwrapped).__name__
    return SensorReader(RobotModel(model, where=name))


def read_sensors(robot: RobotModel, data: mujoco.MjData) -> dict[str, float]:
    """Every sensor of ``robot`` as ``{field-grammar source: value}`` (see the module doc).

    Convenient, not fast (builds a reader each call): in a loop keep a :class:`SensorReader`.
    """
    reader = SensorReader(robot)
    return reader.as_dict(reader.read(data))
