"""A robot as its MuJoCo model describes it: joints, actuators, root and base body.

:class:`RobotModel` is read from a compiled ``mujoco.MjModel`` (a Gymnasium MuJoCo env's
``env.unwrapped.model``) or from an MJCF file (:meth:`RobotModel.from_mjcf`). It is what the
joint-space IO is generated from: the joint names a JointState carries, the joint each actuator
drives (in actuator order, which is the order of the env's action vector: Ant-v5 drives
``hip_4`` first), ranges, gears and effort limits, and the base body an IMU would sit on.

- **root**: ``free`` (a free joint on the base body, e.g. Ant), ``planar`` (slide x, slide z and
  hinge y on the base body, e.g. HalfCheetah's ``rootx``/``rootz``/``rooty``) or ``fixed`` (no root
  joint: an arm bolted to the world; its base is the world).
- **joints**: the robot's hinge and slide joints, root joints excluded, in model order. Joints
  outside the robot's kinematic tree (Reacher's ``target_x``/``target_y``, which move the target,
  not the arm) are listed in :attr:`RobotModel.other_joints` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import mujoco
import numpy as np

from rnn_control.errors import ConfigError

JOINT_TYPES = {
    int(mujoco.mjtJoint.mjJNT_FREE): "free",
    int(mujoco.mjtJoint.mjJNT_BALL): "ball",
    int(mujoco.mjtJoint.mjJNT_SLIDE): "slide",
    int(mujoco.mjtJoint.mjJNT_HINGE): "hinge",
}
UNITS = {  # joint type -> (position, velocity, effort) units
    "hinge": ("rad", "rad/s", "N*m"),
    "slide": ("m", "m/s", "N"),
}
PLANAR_ROOT = ("slide", "slide", "hinge")


@dataclass(frozen=True)
class Joint:
    """One hinge or slide joint (``qpos_adr``/``dof_adr`` index ``data.qpos``/``data.qvel``)."""

    name: str
    type: Literal["hinge", "slide"]
    id: int
    qpos_adr: int
    dof_adr: int
    limited: bool
    range: tuple[float, float]  # position limits (rad or m); (-inf, inf) when not limited
    body: str

    @property
    def units(self) -> tuple[str, str, str]:
        """Units of position, velocity and effort: ``rad, rad/s, N*m`` or ``m, m/s, N``."""
        return UNITS[self.type]


@dataclass(frozen=True)
class Actuator:
    """One actuator driving one joint: joint effort = ``gain * gear * ctrl`` for a motor.

    ``effort_limit`` is the largest |joint effort| it can apply (ctrl range times gain and gear,
    tightened by the actuator's force range and the joint's actuator force range where limited).
    """

    name: str  # the MJCF name, or the joint's name for an unnamed actuator
    id: int
    joint: str
    gear: float
    gain: float  # gainprm[0]: actuator force per unit of ctrl (1 for a <motor>)
    ctrl_limited: bool
    ctrl_range: tuple[float, float]
    force_limited: bool
    force_range: tuple[float, float]
    is_motor: bool  # fixed gain, no bias: force = gain * ctrl (not a position/velocity servo)
    effort_range: tuple[float, float]  # joint effort at the ctrl limits, clipped by the force ranges

    @property
    def effort_per_ctrl(self) -> float:
        """Joint effort (N*m or N) per unit of ctrl: the action scale of an effort command."""
        return self.gain * self.gear

    @property
    def effort_limit(self) -> float:
        return max(abs(self.effort_range[0]), abs(self.effort_range[1]))


@dataclass(frozen=True)
class Root:
    """How the base moves: ``free``, ``planar`` (its three joints named) or ``fixed``."""

    kind: Literal["free", "planar", "fixed"]
    joints: tuple[str, ...] = ()


class RobotModel:
    """The joint, actuator and base tables of a compiled MuJoCo model (see the module doc)."""

    def __init__(self, model: mujoco.MjModel, where: str = "model") -> None:
        self.model = model
        self.where = where
        all_joints = [_joint_name(model, j, where) for j in range(model.njnt)]
        dup = sorted({n for n in all_joints if all_joints.count(n) > 1})
        if dup:
            raise ConfigError(f"{where}: duplicated joint names {dup}; every joint needs its own name")
        self.root, self.base_body_id = _root(model, where)
        self.base_body = _body_name(model, self.base_body_id)
        self.floating = self.root.kind != "fixed"
        self.actuators = [_actuator(model, a, where) for a in range(model.nu)]
        if not self.actuators:
            raise ConfigError(
                f"{where}: the MJCF has no actuators; add an <actuator> section with a <motor joint=...> "
                "for every joint the policy commands"
            )
        actuated_bodies = [int(model.jnt_bodyid[model.joint(a.joint).id]) for a in self.actuators]
        tree = _robot_bodies(model, self.base_body_id, actuated_bodies)
        self.joints: list[Joint] = []
        self.other_joints: list[Joint] = []
        for j in range(model.njnt):
            kind = JOINT_TYPES[int(model.jnt_type[j])]
            if all_joints[j] in self.root.joints or kind not in ("hinge", "slide"):
                continue
            joint = _joint(model, j, all_joints[j], kind)
            (self.joints if model.jnt_bodyid[j] in tree else self.other_joints).append(joint)
        self._by_name = {j.name: j for j in self.joints + self.other_joints}

    @classmethod
    def from_mjcf(cls, path: str | Path) -> RobotModel:
        """Compile an MJCF file; ``ConfigError`` naming the file if it is missing or MuJoCo refuses it."""
        return cls(load_mjcf(path), where=Path(path).name)

    @property
    def joint_names(self) -> list[str]:
        """The robot's joints in model order (what its JointState lists)."""
        return [j.name for j in self.joints]

    @property
    def actuated_joints(self) -> list[str]:
        """The joint each actuator drives, in actuator order (the order of the env's action)."""
        return [a.joint for a in self.actuators]

    def joint(self, name: str, where: str = "joint") -> Joint:
        """The joint called ``name``; ``ConfigError`` listing the available ones otherwise."""
        if name not in self._by_name:
            raise ConfigError(
                f"{where}: '{name}' is not a joint of {self.where}; available joints: "
                f"{', '.join(self.joint_names + [j.name for j in self.other_joints])}"
            )
        return self._by_name[name]

    def actuator_for(self, joint: str, where: str = "joint") -> Actuator:
        """The actuator driving ``joint``; ``ConfigError`` naming the actuated joints otherwise."""
        self.joint(joint, where)
        for a in self.actuators:
            if a.joint == joint:
                return a
        raise ConfigError(
            f"{where}: joint '{joint}' of {self.where} has no actuator; actuated joints: "
            f"{', '.join(self.actuated_joints)}"
        )

    def body_id(self, name: str, where: str = "body") -> int:
        """The id of body ``name``; ``ConfigError`` listing the model's bodies otherwise."""
        b = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, name)
        if b < 0:
            names = [self.model.body(i).name for i in range(1, self.model.nbody) if self.model.body(i).name]
            raise ConfigError(f"{where}: no body '{name}' in {self.where}; bodies: {', '.join(names)}")
        return b

    def require_floating(self, where: str) -> None:
        """``ConfigError`` unless the robot has a floating base (IMU, odometry, height, tilt)."""
        if not self.floating:
            raise ConfigError(
                f"{where}: {self.where} has a fixed base (no IMU or odometry); this needs a floating one"
            )

    def __repr__(self) -> str:
        return (
            f"RobotModel({self.where}: root {self.root.kind}, base '{self.base_body}', "
            f"joints {self.joint_names}, actuators {self.actuated_joints})"
        )


def load_mjcf(path: str | Path) -> mujoco.MjModel:
    """``mujoco.MjModel`` from an MJCF file, with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such MJCF file")
    try:
        return mujoco.MjModel.from_xml_path(str(path))
    except ValueError as exc:
        raise ConfigError(f"{path}: MuJoCo cannot compile it: {' '.join(str(exc).split())}") from None


def _joint_name(model: mujoco.MjModel, j: int, where: str) -> str:
    name = model.joint(j).name
    if not name:
        body = _body_name(model, int(model.jnt_bodyid[j]))
        raise ConfigError(
            f"{where}: joint #{j} (in body '{body}') has no name; joint-space IO needs named joints"
        )
    return name


def _body_name(model: mujoco.MjModel, b: int) -> str:
    return model.body(b).name or f"body#{b}"


def _joint(model: mujoco.MjModel, j: int, name: str, kind: str) -> Joint:
    limited = bool(model.jnt_limited[j])
    lo, hi = (float(v) for v in model.jnt_range[j]) if limited else (-np.inf, np.inf)
    return Joint(
        name=name,
        type=kind,  # type: ignore[arg-type]
        id=j,
        qpos_adr=int(model.jnt_qposadr[j]),
        dof_adr=int(model.jnt_dofadr[j]),
        limited=limited,
        range=(lo, hi),
        body=_body_name(model, int(model.jnt_bodyid[j])),
    )


def _root(model: mujoco.MjModel, where: str) -> tuple[Root, int]:
    """The root joint(s) and base body: a free joint, the planar triple on a child of the world,
    or none (fixed base: the world)."""
    for j in range(model.njnt):
        if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE:
            return Root("free", (model.joint(j).name,)), int(model.jnt_bodyid[j])
    for b in range(1, model.nbody):
        if model.body_parentid[b] != 0 or model.body_jntnum[b] < 3:
            continue
        first = int(model.body_jntadr[b])
        types = tuple(JOINT_TYPES[int(model.jnt_type[first + k])] for k in range(3))
        axes = [np.abs(model.jnt_axis[first + k]) for k in range(3)]
        if types == PLANAR_ROOT and all(np.allclose(a, e) for a, e in zip(axes, np.eye(3)[[0, 2, 1]])):
            return Root("planar", tuple(model.joint(first + k).name for k in range(3))), b
    return Root("fixed"), 0


def _robot_bodies(model: mujoco.MjModel, base: int, actuated_bodies: list[int]) -> set[int]:
    """Bodies of the robot: the subtree of the base (floating), or of every child of the world
    that carries an actuated joint (fixed base)."""
    roots = {base} if base else {int(model.body_rootid[b]) for b in actuated_bodies}
    return {b for b in range(1, model.nbody) if int(model.body_rootid[b]) in roots}


def _actuator(model: mujoco.MjModel, a: int, where: str) -> Actuator:
    label = model.actuator(a).name or f"#{a}"
    if model.actuator_trntype[a] != mujoco.mjtTrn.mjTRN_JOINT:
        raise ConfigError(
            f"{where}: actuator '{label}' drives a tendon or site; joint-space IO needs joint actuators "
            "(<motor joint=...>)"
        )
    j = int(model.actuator_trnid[a, 0])
    joint = _joint_name(model, j, where)
    if JOINT_TYPES[int(model.jnt_type[j])] not in ("hinge", "slide"):
        raise ConfigError(
            f"{where}: actuator '{label}' drives '{joint}', a ball or free joint; need hinge or slide"
        )
    gear, gain = float(model.actuator_gear[a, 0]), float(model.actuator_gainprm[a, 0])
    ctrl_limited = bool(model.actuator_ctrllimited[a])
    ctrl = tuple(float(v) for v in model.actuator_ctrlrange[a]) if ctrl_limited else (-np.inf, np.inf)
    force_limited = bool(model.actuator_forcelimited[a])
    force = tuple(float(v) for v in model.actuator_forcerange[a]) if force_limited else (-np.inf, np.inf)
    is_motor = (
        model.actuator_gaintype[a] == mujoco.mjtGain.mjGAIN_FIXED
        and model.actuator_biastype[a] == mujoco.mjtBias.mjBIAS_NONE
    )
    # effort = gear * clip(gain * ctrl, force range), then the joint's actuator force range
    lo, hi = sorted((gain * ctrl[0], gain * ctrl[1])) if is_motor else force
    lo, hi = max(lo, force[0]), min(hi, force[1])
    effort = sorted((gear * lo, gear * hi))
    if model.jnt_actfrclimited[j]:
        flo, fhi = (float(v) for v in model.jnt_actfrcrange[j])
        effort = [max(effort[0], flo), min(effort[1], fhi)]
    return Actuator(
        name=model.actuator(a).name or joint,
        id=a,
        joint=joint,
        gear=gear,
        gain=gain,
        ctrl_limited=ctrl_limited,
        ctrl_range=ctrl,  # type: ignore[arg-type]
        force_limited=force_limited,
        force_range=force,  # type: ignore[arg-type]
        is_motor=is_motor,
        effort_range=(float(effort[0]), float(effort[1])),
    )
