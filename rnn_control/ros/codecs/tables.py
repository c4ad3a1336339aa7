"""The codec tables, by source group and by ``command_type`` (re-exported by the package).

Adding a message kind: write its module (a :class:`~rnn_control.ros.codecs.base.SensorReader`
and/or a :class:`~rnn_control.ros.codecs.base.CommandWriter` subclass) and list its classes here.
The tables live apart from ``codecs/__init__`` so that :mod:`.observation` can use
them while the package re-exports the assembler (without an import circle).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rnn_control.ros.codecs.base import CommandWriter, ReaderLimits, SensorReader, Slot
from rnn_control.ros.codecs.float64_multi_array import Float64ArrayWriter, VectorReader
from rnn_control.ros.codecs.imu import ImuReader
from rnn_control.ros.codecs.joint_state import JointStateReader, JointStateWriter
from rnn_control.ros.codecs.joint_trajectory import JointTrajectoryWriter
from rnn_control.ros.codecs.odometry import OdometryReader
from rnn_control.ros.codecs.twist import TwistReader, TwistWriter

READERS: dict[str, type[SensorReader]] = {
    cls.group: cls for cls in (JointStateReader, ImuReader, OdometryReader, TwistReader, VectorReader)
}
"""Source group -> reader, in :data:`~rnn_control.contract.fields.SENSOR_GROUPS` order."""

WRITERS: dict[str, type[CommandWriter]] = {
    cls.command_type: cls
    for cls in (Float64ArrayWriter, JointStateWriter, JointTrajectoryWriter, TwistWriter)
}
"""``command_type`` -> writer."""

SENSOR_MSG_TYPES: dict[str, type] = {group: cls.msg_type for group, cls in READERS.items()}
COMMAND_TYPES: dict[str, type] = {kind: cls.msg_type for kind, cls in WRITERS.items()}


def make_readers(groups: Mapping[str, Sequence[Slot]], limits: ReaderLimits) -> dict[str, SensorReader]:
    """One reader per sensor group of ``groups`` (as :func:`~rnn_control.ros.codecs.base.group_sources`
    returns them, without ``last_action``)."""
    return {group: READERS[group](slots, limits) for group, slots in groups.items()}
