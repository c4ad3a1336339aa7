"""Observation terms: the observation vector of a joint-space robot, and its declared layout.

Each term yields :class:`~rnn_control.contract.ObservationField` entries (name, field-grammar
source, unit) and fills their values from a :class:`~.sensors.SensorReader` reading, so an
exported bundle reads the same messages the robot publishes:

==============================  ==================================  ==================================
term                            fields (per joint / axis)           source
==============================  ==================================  ==================================
``joint_position``              ``<joint>_pos`` (rad or m)          ``joint_state/position/<joint>``
``joint_velocity``              ``<joint>_vel`` (rad/s or m/s)      ``joint_state/velocity/<joint>``
``joint_effort``                ``<joint>_effort`` (N*m or N)       ``joint_state/effort/<joint>``
``base_orientation``            ``base_quat_<x|y|z|w>``             ``imu/orientation/<axis>``
``base_angular_velocity``       ``base_ang_vel_<axis>`` (rad/s)     ``imu/angular_velocity/<axis>``
``base_linear_acceleration``    ``base_lin_acc_<axis>`` (m/s^2)     ``imu/linear_acceleration/<axis>``
``base_linear_velocity``        ``base_lin_vel_<axis>`` (m/s)       ``odometry/twist/linear/<axis>``
``base_height``                 ``base_height`` (m)                 ``odometry/pose/position/z``
``target_position``             ``target_<axis>`` (m, base frame)   ``vector/<i>`` (a task input)
``velocity_command``            ``cmd_<linear|angular>_<axis>``     ``twist/<linear|angular>/<axis>``
==============================  ==================================  ==================================

``joints`` picks joints (default: all robot joints), ``axes`` picks components (default: all).
Task inputs (``vector/<i>``) are numbered in order of appearance, from 0.
"""

from __future__ import annotations

from collections.abc import Callable

import mujoco
import numpy as np

from rnn_control.contract.fields import XYZ, XYZW
from rnn_control.contract.metadata import ObservationField
from rnn_control.envs.robots.mjcf import RobotModel
from rnn_control.envs.robots.sensors import SensorReader
from rnn_control.errors import ConfigError
from rnn_control.scenario.robot import COMMAND_AXES, OBSERVATION_TERMS, ObservationTerm

# term -> (sensor block, field-name prefix, unit, allowed axes); joint terms use the joint's unit
SENSOR_TERMS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "joint_position": ("joint_state/position", "pos", "", ()),
    "joint_velocity": ("joint_state/velocity", "vel", "", ()),
    "joint_effort": ("joint_state/effort", "effort", "", ()),
    "base_orientation": ("imu/orientation", "base_quat", "", XYZW),
    "base_angular_velocity": ("imu/angular_velocity", "base_ang_vel", "rad/s", XYZ),
    "base_linear_acceleration": ("imu/linear_acceleration", "base_lin_acc", "m/s^2", XYZ),
    "base_linear_velocity": ("odometry/twist/linear", "base_lin_vel", "m/s", XYZ),
    "base_height": ("odometry/pose/position", "base_height", "m", ("z",)),
}
TASK_TERMS = ("target_position", "velocity_command")
assert set(SENSOR_TERMS) | set(TASK_TERMS) == set(OBSERVATION_TERMS), "term tables disagree"
_JOINT_UNIT = {"joint_position": 0, "joint_velocity": 1, "joint_effort": 2}


class ObservationTerms:
    """The observation of ``terms`` for ``robot``: :attr:`fields` (the declared layout) and
    :meth:`observe` (the values, float32, in the same order).

    ``command`` gives the current velocity command per axis (``linear/x`` ...) for
    ``velocity_command``: an env that samples commands passes a callable returning them.
    """

    def __init__(
        self,
        robot: RobotModel,
        terms: list[ObservationTerm],
        reader: SensorReader | None = None,
        command: Callable[[], dict[str, float]] | None = None,
        where: str = "observation",
    ) -> None:
        self.robot = robot
        self.reader = reader or SensorReader(robot)
        self.fields: list[ObservationField] = []
        sensor_rows: list[tuple[int, int]] = []  # (observation index, reader index)
        self._task: list[tuple[int, Callable[[mujoco.MjData], float]]] = []
        vector = 0
        for i, term in enumerate(terms):
            here = f"{where}[{i}].{term.term}"
            if term.term in SENSOR_TERMS:
                for f in self._sensor_fields(term, here):
                    sensor_rows.append((len(self.fields), self.reader.index[f.source]))
                    self.fields.append(f)
                continue
            for name, unit, source, getter in self._task_fields(term, command, vector, here):
                vector += source.startswith("vector/")
                self._task.append((len(self.fields), getter))
                self.fields.append(ObservationField(name, source, unit))
        self._obs_index = np.array([r[0] for r in sensor_rows], dtype=np.intp)
        self._reader_index = np.array([r[1] for r in sensor_rows], dtype=np.intp)
        self._out = np.zeros(len(self.fields), dtype=np.float32)

    def _sensor_fields(self, term: ObservationTerm, where: str) -> list[ObservationField]:
        block, prefix, unit, allowed = SENSOR_TERMS[term.term]
        if term.term.startswith("joint_"):
            if term.axes is not None:
                raise ConfigError(f"{where}.axes: joint terms take joints, not axes")
            names = term.joints if term.joints is not None else self.robot.joint_names
            joints = [self.robot.joint(n, f"{where}.joints") for n in names]
            missing = [j.name for j in joints if j not in self.robot.joints]
            if missing:
                raise ConfigError(
                    f"{where}.joints: {missing} are not joints of the robot (they move other bodies)"
                )
            k = _JOINT_UNIT[term.term]
            return [ObservationField(f"{j.name}_{prefix}", f"{block}/{j.name}", j.units[k]) for j in joints]
        if not self.robot.floating:
            raise ConfigError(
                f"{where}: {self.robot.where} has a fixed base (no IMU or odometry); use joint and task terms"
            )
        axes = _axes(term.axes, allowed, where)
        if term.term == "base_height":
            return [ObservationField("base_height", f"{block}/z", unit)]
        return [ObservationField(f"{prefix}_{a}", f"{block}/{a}", unit) for a in axes]

    def _task_fields(self, term: ObservationTerm, command, vector: int, where: str) -> list[tuple]:
        if term.term == "velocity_command":
            if command is None:
                raise ConfigError(
                    f"{where}: this env samples no velocity command; velocity_command needs a robot "
                    "section with command: {linear/x: [low, high], ...}"
                )
            axes = _axes(term.axes, COMMAND_AXES, where)
            return [
                (f"cmd_{a.replace('/', '_')}", "m/s" if a.startswith("linear") else "rad/s", f"twist/{a}",
                 lambda data, a=a: command().get(a, 0.0))
                for a in axes
            ]  # fmt: skip
        body_id = self.robot.body_id(term.body or "target", f"{where}.body")
        axes = _axes(term.axes, XYZ, where)
        base = self.robot.base_body_id
        out = []
        for k, a in enumerate(axes):
            col = XYZ.index(a)

            def get(data: mujoco.MjData, col: int = col) -> float:
                offset = data.xpos[body_id] - data.xpos[base]  # in the base frame
                return float(data.xmat[base].reshape(3, 3)[:, col] @ offset)

            out.append((f"target_{a}", "m", f"vector/{vector + k}", get))
        return out

    def observe(self, data: mujoco.MjData, reading: np.ndarray | None = None) -> np.ndarray:
        """The observation (float32, a new array) from ``reading`` (default: a fresh one)."""
        values = self.reader.read(data) if reading is None else reading
        out = self._out
        out[self._obs_index] = values[self._reader_index]
        for i, get in self._task:
            out[i] = get(data)
        return out.copy()

    def declared(self) -> list[dict]:
        """The fields as the plain mappings an env declares (``io_fields["observation"]``)."""
        return [{"name": f.name, "source": f.source, "unit": f.unit} for f in self.fields]


def _axes(axes: list[str] | None, allowed: tuple[str, ...], where: str) -> list[str]:
    if axes is None:
        return list(allowed)
    bad = [a for a in axes if a not in allowed]
    if bad:
        raise ConfigError(f"{where}.axes: {bad} not allowed; choose from {', '.join(allowed)}")
    return list(axes)
