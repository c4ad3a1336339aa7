"""Test-wide setup: keep DDS on loopback and give every test run its own ROS domain."""

from __future__ import annotations

import os

# Must happen before anything imports rclpy (also inherited by nodes started as subprocesses).
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
if "ROS_DOMAIN_ID" not in os.environ:
    # A domain no other process on this machine uses (two test runs at once get different ones):
    # DDS participants bind known UDP ports, so a free domain is one whose ports can be bound.
    from rnn_control.demo.ros_domain import pick_free_domain

    os.environ["ROS_DOMAIN_ID"] = str(pick_free_domain())
os.environ.setdefault("MPLBACKEND", "Agg")

from tests.host_load import HostLoad

_HOST = HostLoad()


def pytest_terminal_summary(terminalreporter) -> None:
    """How much CPU the hypervisor took from this run: the timing-sensitive ROS tests read
    differently on a machine that lost a fifth of its cores to steal."""
    terminalreporter.write_line(_HOST.line())
