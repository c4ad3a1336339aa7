"""The field grammar: where a node reads an observation field and writes a command.

Sources (observation fields), one group per ROS subscription:

- ``joint_state/{position,velocity,effort}/<joint_name>``   sensor_msgs/JointState, by name
- ``imu/orientation/{x,y,z,w}``, ``imu/angular_velocity/{x,y,z}``,
  ``imu/linear_acceleration/{x,y,z}``                         sensor_msgs/Imu
- ``odometry/pose/position/{x,y,z}``, ``odometry/pose/orientation/{x,y,z,w}``,
  ``odometry/twist/{linear,angular}/{x,y,z}``                 nav_msgs/Odometry
- ``twist/{linear,angular}/{x,y,z}``                        geometry_msgs/Twist
- ``vector/<index>``                                        std_msgs/Float64MultiArray
- ``last_action/<index>``                                   the node's own previous command

Targets (commands): ``joint/<joint_name>``, ``twist/{linear,angular}/{x,y,z}``, ``vector/<index>``.

This module is the one parser of that grammar; metadata validation, the scenario's ``io:``
section, the runtime IO spec and the ROS codecs all call it.
"""

from __future__ import annotations

from dataclasses import dataclass

XYZ = ("x", "y", "z")
XYZW = ("x", "y", "z", "w")
JOINT_STATE_FIELDS = ("position", "velocity", "effort")
SENSOR_GROUPS = ("joint_state", "imu", "odometry", "twist", "vector")
"""Source groups read from a ROS subscription (``last_action`` is the node's own command)."""

# group -> allowed fixed path prefixes and the allowed last components.
_FIXED_SOURCES: dict[str, dict[tuple[str, ...], tuple[str, ...]]] = {
    "imu": {("orientation",): XYZW, ("angular_velocity",): XYZ, ("linear_acceleration",): XYZ},
    "odometry": {
        ("pose", "position"): XYZ,
        ("pose", "orientation"): XYZW,
        ("twist", "linear"): XYZ,
        ("twist", "angular"): XYZ,
    },
    "twist": {("linear",): XYZ, ("angular",): XYZ},
}

SOURCE_FORMS = (
    "joint_state/{position,velocity,effort}/<joint>, imu/orientation/{x,y,z,w}, "
    "imu/{angular_velocity,linear_acceleration}/{x,y,z}, odometry/pose/position/{x,y,z}, "
    "odometry/pose/orientation/{x,y,z,w}, odometry/twist/{linear,angular}/{x,y,z}, "
    "twist/{linear,angular}/{x,y,z}, vector/<index>, last_action/<index>"
)
TARGET_FORMS = "joint/<joint>, twist/{linear,angular}/{x,y,z}, vector/<index>"


@dataclass(frozen=True)
class FieldPath:
    """A parsed source or target: ``group`` (one message kind) and the ``path`` inside it.

    Sources: group ``joint_state`` (path ``(field, joint)``), ``imu``, ``odometry``, ``twist``,
    ``vector``, ``last_action``; targets: ``joint`` (path ``(joint,)``), ``twist``, ``vector``.
    """

    group: str
    path: tuple[str, ...]

    @property
    def index(self) -> int:
        """Element index of a ``vector`` / ``last_action`` field."""
        return int(self.path[0])

    def __str__(self) -> str:
        return "/".join((self.group, *self.path))


def _split(text: object) -> tuple[str, tuple[str, ...]] | None:
    if not isinstance(text, str) or not text.strip():
        return None
    parts = tuple(text.strip().split("/"))
    return parts[0], parts[1:]


def parse_source(text: str) -> FieldPath:
    """Parse an observation source; ``ValueError`` listing the allowed forms if malformed."""
    split = _split(text)
    if split:
        group, rest = split
        if group == "joint_state" and len(rest) >= 2 and rest[0] in JOINT_STATE_FIELDS and all(rest[1:]):
            return FieldPath(group, (rest[0], "/".join(rest[1:])))
        if group in ("vector", "last_action") and len(rest) == 1 and rest[0].isdigit():
            return FieldPath(group, rest)
        for prefix, leaves in _FIXED_SOURCES.get(group, {}).items():
            if rest[:-1] == prefix and len(rest) == len(prefix) + 1 and rest[-1] in leaves:
                return FieldPath(group, rest)
    raise ValueError(f"source {text!r} is not valid; allowed forms: {SOURCE_FORMS}")


def parse_target(text: str) -> FieldPath:
    """Parse an action target; ``ValueError`` listing the allowed forms if malformed."""
    split = _split(text)
    if split:
        group, rest = split
        if group == "joint" and rest and all(rest):
            return FieldPath(group, ("/".join(rest),))
        if group == "vector" and len(rest) == 1 and rest[0].isdigit():
            return FieldPath(group, rest)
        if group == "twist" and len(rest) == 2 and rest[0] in ("linear", "angular") and rest[1] in XYZ:
            return FieldPath(group, rest)
    raise ValueError(f"target {text!r} is not valid; allowed forms: {TARGET_FORMS}")
