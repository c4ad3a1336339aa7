"""Node parameters declared from one table: ``name -> (default, description)``.

Every node keeps its table as a module constant (``PARAMETERS``); launch files and
``config/*.yaml`` may set only the names in it (tested). A default given as a
``Parameter.Type`` (e.g. ``Parameter.Type.STRING_ARRAY``) declares a parameter without a
value, read back as ``None`` while unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter

ParameterTable = Mapping[str, tuple[Any, str]]

_SENSOR_TOPICS = {
    "joint_state": ("joint_states", "sensor_msgs/JointState"),
    "imu": ("imu", "sensor_msgs/Imu"),
    "odometry": ("odom", "nav_msgs/Odometry"),
    "twist": ("cmd_vel", "geometry_msgs/Twist"),
    "vector": ("observation", "std_msgs/Float64MultiArray"),
}


def sensor_topic_parameters(direction: str = "input") -> dict[str, tuple[Any, str]]:
    """``<group>_topic`` for every sensor group, and ``sensor_qos``: the same names and defaults on
    every node (``direction``: ``input`` for the control nodes, ``output`` for the sim bridge)."""
    table: dict[str, tuple[Any, str]] = {
        f"{group}_topic": (topic, f"{msg} {direction}") for group, (topic, msg) in _SENSOR_TOPICS.items()
    }
    table["sensor_qos"] = ("sensor_data", "sensor_data (best effort) or reliable")
    return table


def command_parameters(topic_doc: str) -> dict[str, tuple[Any, str]]:
    """``command_topic``, ``command_type``, ``command_joints``, ``joint_command_field``: how commands
    travel, the same on the nodes that send them and those that read them."""
    kinds = "float64_multi_array, joint_state, joint_trajectory or twist"
    return {
        "command_topic": ("command", topic_doc),
        "command_type": ("float64_multi_array", kinds),
        "command_joints": (Parameter.Type.STRING_ARRAY, "joint order of joint commands; unset: action order"),
        "joint_command_field": ("", "JointState/JointTrajectory field: position, velocity or effort; '': the "
                                "bundle's control mode (position where it declares none)"),
    }


def declare_parameters(node: Node, table: ParameterTable) -> None:
    """Declare every parameter of ``table`` on ``node``, with its description."""
    for name, (default, doc) in table.items():
        node.declare_parameter(name, default, ParameterDescriptor(description=doc))


def parameter(node: Node, name: str) -> Any:
    """The value of a declared parameter; ``None`` for one declared without a value and unset."""
    try:
        return node.get_parameter(name).value
    except ParameterUninitializedException:
        return None
