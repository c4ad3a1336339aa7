"""Test-wide setup: keep DDS on loopback and give every test run its own ROS domain."""

from __future__ import annotations

import os

# Must happen before anything imports rclpy (also inherited by nodes started as subprocesses).
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(10 + os.getpid() % 90))
os.environ.setdefault("MPLBACKEND", "Agg")
