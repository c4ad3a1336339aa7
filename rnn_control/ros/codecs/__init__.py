"""ROS messages <-> named float slots: one codec module per message kind, and this registry.

Kinds: :mod:`.joint_state` (sensor_msgs/JointState), :mod:`.imu`, :mod:`.odometry`,
:mod:`.twist`, :mod:`.float64_multi_array` (std_msgs/Float64MultiArray), :mod:`.joint_trajectory`; the
shared pieces are in :mod:`.base`, the tables in :mod:`.tables`.

Sensor side: one reader per source group of the bundle's observation layout (``joint_state``,
``imu``, ``odometry``, ``twist``, ``vector``; the grammar is :mod:`rnn_control.contract.fields`),
kept up to date by :class:`ObservationAssembler` (:mod:`.observation`). A reader
checks a message and, only if it is good, copies the fields the bundle needs into the observation
vector; a bad message is dropped and the reason returned (never raised), so one malformed message
can neither crash a node nor half-update an observation. :class:`SensorMessageBuilder` is the
inverse (the sim bridge).

Command side: :func:`make_writer` returns the writer for a ``command_type``
(``float64_multi_array`` for ros2_control's forward_command_controller, ``joint_state`` on a
joint_command topic, ``joint_trajectory``, ``twist``); constructing one for targets it cannot carry
raises ``ValueError`` saying why. :class:`CommandReader` (:func:`make_command_reader`) is the
inverse (the sim bridge, the dynamics monitor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time

from rnn_control.ros.codecs.base import (
    REJECT_REASONS,
    CommandWriter,
    ReaderLimits,
    SensorReader,
    float64_array,
    group_sources,
    stamp_ns,
    time_msg,
)
from rnn_control.ros.codecs.observation import ObservationAssembler, SampleTrigger
from rnn_control.ros.codecs.tables import COMMAND_TYPES, READERS, SENSOR_MSG_TYPES, WRITERS, make_readers

__all__ = [
    "COMMAND_TYPES",
    "READERS",
    "REJECT_REASONS",
    "SENSOR_MSG_TYPES",
    "WRITERS",
    "CommandReader",
    "CommandWriter",
    "ObservationAssembler",
    "ReaderLimits",
    "SampleTrigger",
    "SensorMessageBuilder",
    "SensorReader",
    "float64_array",
    "make_command_reader",
    "make_readers",
    "make_writer",
    "stamp_ns",
    "time_msg",
]


def make_writer(command_type: str, targets: Sequence[str], **options: Any) -> CommandWriter:
    """The writer for ``command_type``; ``ValueError`` naming the problem if it cannot carry ``targets``."""
    if command_type not in WRITERS:
        raise ValueError(f"command_type '{command_type}' is not one of {', '.join(WRITERS)}")
    return WRITERS[command_type](targets, **options)


class CommandReader:
    """The inverse of a writer: a command message -> command vector in action order, or ``None``
    if it is malformed or not finite. Takes the arguments of :func:`make_writer`."""

    def __init__(self, command_type: str, targets: Sequence[str], **options: Any) -> None:
        self.writer = make_writer(command_type, targets, **options)
        self.msg_type = self.writer.msg_type
        self.command_type = command_type
        self.out = np.zeros(len(targets), dtype=np.float64)

    def read(self, msg: Any) -> np.ndarray | None:
        """The command carried by ``msg`` (a new array), or ``None``."""
        try:
            self.writer.read(msg, self.out)
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        if not np.isfinite(self.out).all():
            return None
        return self.out.copy()


def make_command_reader(command_type: str, targets: Sequence[str], **options: Any) -> CommandReader:
    """The :class:`CommandReader` for ``command_type``; ``ValueError`` as :func:`make_writer`."""
    return CommandReader(command_type, targets, **options)


class SensorMessageBuilder:
    """The inverse of the readers (used by the sim bridge): observation values -> one message per
    sensor group, laid out exactly as the bundle's sources say. ``last_action`` slots are skipped
    (the policy node fills them from its own command)."""

    def __init__(self, sources: Sequence[str], vector_length: int = 0, exclude: Sequence[str] = ()) -> None:
        """``exclude``: groups another builder publishes (slots keep their index in ``sources``)."""
        by_group = group_sources(sources)
        for group in ("last_action", *exclude):
            by_group.pop(group, None)
        self.readers = make_readers(by_group, ReaderLimits(vector_length=vector_length))
        self.groups = list(self.readers)

    def build(self, obs: np.ndarray, stamp: Time) -> dict[str, Any]:
        """``{group: message}`` carrying ``obs`` (indexed like the bundle's observation list)."""
        return {group: reader.build(obs, stamp) for group, reader in self.readers.items()}
