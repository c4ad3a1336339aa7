"""nav_msgs/Odometry: ``odometry/pose/{position,orientation}/...`` and
``odometry/twist/{linear,angular}/...``."""

from __future__ import annotations

from nav_msgs.msg import Odometry

from rnn_control.ros.codecs.base import FixedFieldReader


class OdometryReader(FixedFieldReader):
    """Odometry's pose and twist are WithCovariance wrappers: the path's first part repeats."""

    group = "odometry"
    msg_type = Odometry
    stamped = True

    @staticmethod
    def attributes(path: tuple[str, ...]) -> tuple[str, ...]:
        """``pose/position/x`` -> ``pose.pose.position.x``; ``twist/linear/x`` -> ``twist.twist.linear.x``."""
        return (path[0], *path)
