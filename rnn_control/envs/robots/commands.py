"""The action side of a joint-space robot's declared layout: one ``joint/<joint>`` field per
commanded joint, carrying the deployment contract (mode, scale, offset, limits, default
position, gains, effort limit) that ``rnn_control.contract.ActionField`` validates.

``command = offset + scale * output`` (the policy output is the env's action), clipped to
``[low, high]``:

- a Gymnasium MuJoCo robot (:func:`effort_fields`): effort mode, the command is the joint torque
  (N*m) or force (N); ``scale`` is the actuator's effort per unit of ctrl (its gear), so the env
  action stays ctrl in the actuator's ctrl range; ``low``/``high`` are the effort range.
- a :class:`~.joint_env.JointSpaceEnv` (:func:`joint_fields`): the section's mode per joint.
"""

from __future__ import annotations

import math
from typing import Any

from rnn_control.config import to_dict
from rnn_control.contract.metadata import ActionField
from rnn_control.envs.robots.mjcf import RobotModel
from rnn_control.errors import ConfigError
from rnn_control.scenario.robot import JointSpec


def effort_fields(robot: RobotModel) -> list[ActionField]:
    """One effort-mode field per actuator, in actuator order (the env's action order)."""
    out = []
    for a in robot.actuators:
        joint = robot.joint(a.joint)
        if not a.is_motor or not math.isfinite(a.effort_limit):
            raise ConfigError(
                f"{robot.where}: actuator '{a.name}' on joint '{a.joint}' is not a motor with a bounded "
                "ctrl range; the joint_space wrapper declares effort commands (use a <motor> with ctrlrange)"
            )
        lo, hi = a.effort_range
        out.append(
            ActionField(
                name=a.joint,
                target=f"joint/{a.joint}",
                low=lo,
                high=hi,
                safe=min(max(0.0, lo), hi),
                scale=a.effort_per_ctrl,
                unit=joint.units[2],
                mode="effort",
                effort_limit=a.effort_limit,
            )
        )
    return out


def joint_fields(robot: RobotModel, joints: list[JointSpec], limits: list[float]) -> list[ActionField]:
    """The fields of a :class:`~.joint_env.JointSpaceEnv`'s commanded ``joints`` with their
    ``limits`` (the effective effort limit of each)."""
    out = []
    for spec, limit in zip(joints, limits):
        joint = robot.joint(spec.name)
        unit = joint.units[{"position": 0, "velocity": 1, "effort": 2}[spec.mode]]
        common: dict[str, Any] = {"name": spec.name, "target": f"joint/{spec.name}", "unit": unit,
                                  "mode": spec.mode, "scale": spec.scale, "effort_limit": limit}  # fmt: skip
        if spec.mode == "position":
            lo, hi = joint.range
            if not lo <= spec.default <= hi:
                raise ConfigError(
                    f"joints: default {spec.default} of joint '{spec.name}' is outside its range [{lo}, {hi}]"
                )
            field = ActionField(low=lo, high=hi, safe=spec.default, offset=spec.default,
                                default_position=spec.default, kp=spec.kp, kd=spec.kd, **common)  # fmt: skip
        elif spec.mode == "velocity":
            bound = abs(spec.scale)
            field = ActionField(low=-bound, high=bound, kd=spec.kd, **common)
        else:
            field = ActionField(low=-limit, high=limit, **common)
        field.validate()
        out.append(field)
    return out


def declared(fields: list[ActionField]) -> list[dict[str, Any]]:
    """Action fields as the plain mappings an env declares (``io_fields["action"]``), unset
    optional keys left out."""
    return [{k: v for k, v in to_dict(f).items() if v is not None} for f in fields]
