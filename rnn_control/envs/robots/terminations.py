"""Termination terms of a :class:`~.joint_env.JointSpaceEnv`: ``fall`` (base below
``min_height`` m) and ``tilt`` (base up axis more than ``max_angle`` rad from vertical) end the
episode; ``time_limit`` (``seconds``) truncates it."""

from __future__ import annotations

from collections.abc import Callable

import mujoco
import numpy as np

from rnn_control.envs.robots.mjcf import RobotModel
from rnn_control.scenario.robot import TerminationTerm


class Terminations:
    """``terminated(data)`` (fall, tilt) and ``truncated(step)`` (time limit)."""

    def __init__(self, robot: RobotModel, terms: list[TerminationTerm], dt: float, where: str) -> None:
        self.checks: list[Callable[[mujoco.MjData], bool]] = []
        self.max_steps: int | None = None
        base = robot.base_body_id
        for i, t in enumerate(terms):
            here = f"{where}[{i}].{t.term}"
            if t.term == "time_limit":
                self.max_steps = max(1, round(float(t.seconds) / dt))
                continue
            robot.require_floating(here)
            if t.term == "fall":
                height = float(t.min_height)
                self.checks.append(lambda d, h=height: bool(d.xpos[base][2] < h))
            else:
                cos_max = float(np.cos(t.max_angle))
                self.checks.append(lambda d, c=cos_max: bool(d.xmat[base][8] < c))

    def terminated(self, data: mujoco.MjData) -> bool:
        return any(check(data) for check in self.checks)

    def truncated(self, steps: int) -> bool:
        return self.max_steps is not None and steps >= self.max_steps
