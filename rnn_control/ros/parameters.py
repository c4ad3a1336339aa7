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

ParameterTable = Mapping[str, tuple[Any, str]]


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
