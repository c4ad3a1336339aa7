"""sensor_msgs/Imu: ``imu/orientation/{x,y,z,w}``, ``imu/angular_velocity/{x,y,z}``,
``imu/linear_acceleration/{x,y,z}``; each path is the message's attribute chain."""

from __future__ import annotations

from collections.abc import Sequence

from sensor_msgs.msg import Imu

from rnn_control.ros.codecs.base import FixedFieldReader, ReaderLimits, Slot


class ImuReader(FixedFieldReader):
    """An Imu whose driver flags its orientation as absent (REP 145: ``orientation_covariance[0]``
    is -1) is refused when the bundle reads the orientation."""

    group = "imu"
    msg_type = Imu
    stamped = True

    def __init__(self, slots: Sequence[Slot], limits: ReaderLimits) -> None:
        super().__init__(slots, limits)
        self.needs_orientation = any(p[0] == "orientation" for p in self.paths)

    def _extract(self, msg: Imu) -> str | None:
        if self.needs_orientation and msg.orientation_covariance[0] == -1.0:
            return "missing_field"  # REP 145: the driver provides no orientation
        return super()._extract(msg)
