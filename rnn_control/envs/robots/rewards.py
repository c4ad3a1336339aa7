"""Reward terms of a :class:`~.joint_env.JointSpaceEnv`, from a small library.

Rewards (each multiplied by its ``weight``, summed every control step):

===================== =======================================================================
``velocity_tracking`` exp(-|v - command|^2 / sigma): base-frame linear x/y and yaw rate against
                      the episode's velocity command (floating base)
``upright``           the z component of the base's up axis (1 upright, 0 lying, -1 upside down)
``alive``             1 per step
``reach_target``      minus the distance (m) from ``body`` (the end effector) to ``target``
``torque``            minus the sum of squared joint efforts (the last physics step's)
``energy``            minus the sum of |effort x joint velocity| (mechanical power, W)
``action_rate``       minus the sum of squared changes of the policy output since the last step
===================== =======================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from rnn_control.envs.robots.mjcf import RobotModel
from rnn_control.envs.robots.sensors import SensorReader
from rnn_control.scenario.robot import REWARD_TERMS, RewardTerm


@dataclass
class StepState:
    """What the terms read after a control step."""

    data: mujoco.MjData
    reading: np.ndarray  # the SensorReader vector
    effort: np.ndarray  # commanded joints' effort in the last physics step
    velocity: np.ndarray  # commanded joints' velocity
    action: np.ndarray  # policy output of this step
    prev_action: np.ndarray  # and of the step before
    command: np.ndarray  # velocity command: linear x, linear y, angular z


Term = Callable[[StepState], float]


class RewardTerms:
    """The weighted sum of ``terms``; :attr:`last` keeps each term's weighted value."""

    def __init__(self, robot: RobotModel, reader: SensorReader, terms: list[RewardTerm], where: str) -> None:
        self.terms: list[tuple[str, float, Term]] = []
        for i, t in enumerate(terms):
            self.terms.append((t.term, t.weight, _reward(robot, reader, t, f"{where}[{i}].{t.term}")))
        self.last: dict[str, float] = {}

    def __call__(self, state: StepState) -> float:
        total = 0.0
        for name, weight, fn in self.terms:
            value = weight * fn(state)
            self.last[name] = value
            total += value
        return total


def _reward(robot: RobotModel, reader: SensorReader, t: RewardTerm, where: str) -> Term:
    assert t.term in REWARD_TERMS
    if t.term == "alive":
        return lambda s: 1.0
    if t.term == "torque":
        return lambda s: -float(s.effort @ s.effort)
    if t.term == "energy":
        return lambda s: -float(np.abs(s.effort * s.velocity).sum())
    if t.term == "action_rate":
        return lambda s: -float(np.square(s.action - s.prev_action).sum())
    if t.term == "reach_target":
        body, target = (
            robot.body_id(t.body or "", f"{where}.body"),
            robot.body_id(t.target, f"{where}.target"),
        )
        return lambda s: -float(np.linalg.norm(s.data.xpos[body] - s.data.xpos[target]))
    robot.require_floating(where)
    base = robot.base_body_id
    if t.term == "upright":
        return lambda s: float(s.data.xmat[base][8])
    idx = [reader.index[f"odometry/twist/{a}"] for a in ("linear/x", "linear/y", "angular/z")]
    sigma = t.sigma
    return lambda s: float(np.exp(-np.square(s.reading[idx] - s.command).sum() / sigma))
