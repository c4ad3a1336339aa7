"""Closed loop over ROS 2: sim bridge, policy node and dynamics monitor as three processes."""

from __future__ import annotations

from rnn_control.demo.stages import DemoContext, StageResult, StageUnavailable


def run_closed_loop(ctx: DemoContext) -> StageResult:
    raise StageUnavailable("the ROS 2 nodes are not in this version yet")
