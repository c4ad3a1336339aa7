"""A robot's joints as a plain list, a URDF or an MJCF file describes them (standard library only).

:class:`RobotDescription` is what :mod:`rnn_control.contract.compare` checks a bundle against:
the joints (type, position limits, effort and velocity limits, the control modes the robot
accepts, gains where the file has them), which of them are actuated and in which order.

- :func:`joint_list`: names only, e.g. the ``joints`` of a ros2_control controller. They are the
  commanded joints, in command order; nothing else is known.
- :func:`parse_urdf`: ``<joint>`` elements (revolute, continuous, prismatic; fixed, floating and
  planar ones are not commanded joints), ``<limit lower upper effort velocity>``, ``<mimic>``
  (driven by another joint: not actuated). Actuated joints and their modes come from the
  ``<ros2_control>`` block (command interfaces), else from ``<transmission>`` hardware
  interfaces, else every movable joint counts as actuated. Xacro must be expanded first.
- :func:`parse_mjcf`: ``<joint>`` elements under ``<worldbody>`` with ``<default>`` classes and
  ``childclass`` resolved, ``<include>`` files spliced in, hinge ranges converted from degrees
  where ``<compiler angle>`` says so (MuJoCo's default); actuators (``motor``, ``position``,
  ``velocity``, ``intvelocity``, ``general``) give the actuated joints (in actuator order, not
  checked: joint commands are matched by name), their mode, kp/kv, the position/velocity target
  range and the effort limit at the joint (``gear`` times the control or force bound).

Problems are :class:`~rnn_control.errors.ConfigError` naming the file and the element.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rnn_control.errors import ConfigError

URDF_MOVABLE = ("revolute", "continuous", "prismatic")
XACRO_NS = "{http://www.ros.org/wiki/xacro}"


@dataclass(frozen=True)
class RobotJoint:
    """One joint as the robot describes it (``None``: the description does not say)."""

    name: str
    type: str = ""  # URDF: revolute | continuous | prismatic; MJCF: hinge | slide | ball | free
    lower: float | None = None  # position limits, rad or m
    upper: float | None = None
    effort_limit: float | None = None  # |effort| the actuator can apply at the joint
    velocity_limit: float | None = None
    modes: tuple[str, ...] = ()  # control modes the robot accepts (effort | position | velocity)
    kp: float | None = None  # position loop stiffness (MJCF position actuator)
    kd: float | None = None  # damping of the position loop, or velocity loop gain (MJCF kv)
    target_range: tuple[float, float] | None = None  # MJCF position/velocity actuator ctrlrange, joint units
    actuated: bool = True


@dataclass
class RobotDescription:
    """A robot's joints; ``source`` names where they came from (used in every message)."""

    source: str
    joints: list[RobotJoint]
    actuated_order: list[str] = field(default_factory=list)  # the commanded joints, in order
    ordered: bool = False  # actuated_order is the robot's command order (a joint list)
    complete: bool = True  # every joint of the robot is listed (not only the commanded ones)

    def joint(self, name: str) -> RobotJoint | None:
        """The joint called ``name``, or ``None``."""
        return next((j for j in self.joints if j.name == name), None)


def joint_list(names: Sequence[str], source: str = "the robot's joint list") -> RobotDescription:
    """The commanded joints of a robot, in command order (e.g. a ros2_control controller's
    ``joints``); ``ConfigError`` naming a duplicated or empty name."""
    names = [str(n) for n in names]
    if any(not n.strip() for n in names):
        raise ConfigError(f"{source}: joint names must not be empty, got {names}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{source}: joint {dup[0]!r} is listed {names.count(dup[0])} times ({names})")
    joints = [RobotJoint(n) for n in names]
    return RobotDescription(source, joints, list(names), ordered=True, complete=False)


def _parse(path: Path, root_tag: str) -> ET.Element:
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (ET.ParseError, OSError) as exc:
        raise ConfigError(f"{path}: not readable XML ({exc})") from None
    if root.tag != root_tag:
        raise ConfigError(f"{path}: the root element is <{root.tag}>, expected <{root_tag}>")
    return root


def _float(value: str | None, what: str, default: float | None = None) -> float | None:
    if value is None or not value.strip():
        return default
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not a number") from None


def _floats(value: str | None, what: str) -> list[float] | None:
    if value is None or not value.strip():
        return None
    try:
        return [float(v) for v in value.split()]
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not a list of numbers") from None


def _positive(value: float | None) -> float | None:
    # URDF writes effort="0" / velocity="0" for "unspecified" as often as for "none"
    return value if value is not None and value > 0 and math.isfinite(value) else None


# ------------------------------------------------------------------------------------ URDF


def parse_urdf(path: str | Path) -> RobotDescription:
    """The movable joints of a URDF file (see the module docstring)."""
    path = Path(path)
    root = _parse(path, "robot")
    if any(el.tag.startswith(XACRO_NS) for el in root.iter()) or "${" in ET.tostring(root, "unicode"):
        raise ConfigError(f"{path}: a xacro file; expand it first (xacro {path.name} > robot.urdf)")
    interfaces = _urdf_interfaces(root, path)
    joints = []
    for el in root.findall("joint"):
        name, kind = el.get("name", ""), el.get("type", "")
        where = f"{path}: joint {name!r}"
        if not name:
            raise ConfigError(f"{path}: a <joint> without a name")
        if kind not in URDF_MOVABLE:
            continue
        limit = el.find("limit")
        get = (lambda key: None) if limit is None else limit.get
        lower = _float(get("lower"), f"{where} limit lower", 0.0)
        upper = _float(get("upper"), f"{where} limit upper", 0.0)
        if kind == "continuous" or limit is None:
            lower = upper = None
        modes = interfaces.get(name, ())
        joints.append(RobotJoint(
            name, kind, lower, upper,
            effort_limit=_positive(_float(get("effort"), f"{where} limit effort")),
            velocity_limit=_positive(_float(get("velocity"), f"{where} limit velocity")),
            modes=tuple(m for m in modes if m), actuated=el.find("mimic") is None,
        ))  # fmt: skip
    if interfaces:  # the control block lists the actuated joints
        joints = [replace(j, actuated=j.actuated and j.name in interfaces) for j in joints]
    names = [j.name for j in joints]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{path}: joint {dup[0]!r} is defined {names.count(dup[0])} times")
    actuated = [j.name for j in joints if j.actuated]
    return RobotDescription(f"URDF {path.name}", joints, actuated, ordered=False, complete=True)


def _urdf_interfaces(root: ET.Element, path: Path) -> dict[str, tuple[str, ...]]:
    """``{joint: command interface modes}`` from ``<ros2_control>``, else from ``<transmission>``
    (``""`` for an interface that is none of the three modes)."""
    out: dict[str, tuple[str, ...]] = {}
    for block in root.iter("ros2_control"):
        for joint in block.findall("joint"):
            names = [c.get("name", "") for c in joint.findall("command_interface")]
            if names:
                out[joint.get("name", "")] = tuple(n if n in ("position", "velocity", "effort") else ""
                                                   for n in names)  # fmt: skip
    if out:
        return out
    for transmission in root.iter("transmission"):
        for joint in transmission.findall("joint"):
            texts = [(h.text or "").lower() for h in joint.findall("hardwareInterface")]
            modes = tuple(next((m for m in ("position", "velocity", "effort") if m in t), "") for t in texts)
            out[joint.get("name", "")] = modes or ("",)
    return out


# ------------------------------------------------------------------------------------ MJCF

_ACTUATORS = ("motor", "position", "velocity", "intvelocity", "general")


def _expand_includes(el: ET.Element, base: Path, depth: int = 0) -> None:
    """Replace every ``<include file>`` under ``el`` by the children of the included file's root."""
    for i, child in enumerate(list(el)):
        if child.tag == "include":
            file = base / child.get("file", "")
            if depth > 20:
                raise ConfigError(f"{file}: <include> nested more than 20 levels deep")
            inc = _parse(file, "mujoco")
            _expand_includes(inc, file.parent, depth + 1)
            el.remove(child)
            for k, sub in enumerate(list(inc)):
                el.insert(i + k, sub)
            return _expand_includes(el, base, depth)  # indices moved: start over
        _expand_includes(child, base, depth)
    return None


class _Defaults:
    """MJCF ``<default>`` classes: attribute lookup through the class chain up to ``main``."""

    def __init__(self, root: ET.Element) -> None:
        self.parent: dict[str, str | None] = {}
        self.elements: dict[str, dict[str, dict[str, str]]] = {}  # class -> tag -> attributes
        for top in root.findall("default"):
            self._add(top, top.get("class", "main"), None)

    def _add(self, el: ET.Element, name: str, parent: str | None) -> None:
        self.parent[name] = parent
        self.elements[name] = {c.tag: dict(c.attrib) for c in el if c.tag != "default"}
        for sub in el.findall("default"):
            self._add(sub, sub.get("class", ""), name)

    def get(self, cls: str | None, tags: Sequence[str], key: str) -> str | None:
        """``key`` of the first of ``tags`` that sets it, from class ``cls`` up to ``main``."""
        name: str | None = cls if cls in self.parent else "main"
        while name is not None:
            for tag in tags:
                value = self.elements.get(name, {}).get(tag, {}).get(key)
                if value is not None:
                    return value
            name = self.parent.get(name)
        return None


def parse_mjcf(path: str | Path) -> RobotDescription:
    """The joints and actuators of an MJCF file (see the module docstring)."""
    path = Path(path)
    root = _parse(path, "mujoco")
    _expand_includes(root, path.parent)
    degrees = all(c.get("angle", "degree") == "degree" for c in root.iter("compiler"))
    autolimits = all(c.get("autolimits", "true") == "true" for c in root.iter("compiler"))
    defaults = _Defaults(root)
    joints: dict[str, RobotJoint] = {}

    def attr(el: ET.Element, cls: str | None, tags: Sequence[str], key: str) -> str | None:
        value = el.get(key)
        return value if value is not None else defaults.get(el.get("class", cls), tags, key)

    def limited(el: ET.Element, cls: str | None, tags: Sequence[str], key: str, given: bool) -> bool:
        value = attr(el, cls, tags, key) or "auto"
        return value == "true" or (value == "auto" and autolimits and given)

    def walk(body: ET.Element, cls: str | None) -> None:
        cls = body.get("childclass", cls)
        for el in body:
            if el.tag in ("body", "frame"):
                walk(el, cls)
            elif el.tag in ("joint", "freejoint"):
                name = el.get("name", "")
                kind = "free" if el.tag == "freejoint" else attr(el, cls, ["joint"], "type") or "hinge"
                where = f"{path}: joint {name!r}"
                rng = _floats(attr(el, cls, ["joint"], "range"), f"{where} range")
                lower = upper = None
                if kind in ("hinge", "slide") and rng and limited(el, cls, ["joint"], "limited", True):
                    scale = math.pi / 180 if degrees and kind == "hinge" else 1.0
                    lower, upper = rng[0] * scale, rng[1] * scale
                frc = _floats(attr(el, cls, ["joint"], "actuatorfrcrange"), f"{where} actuatorfrcrange")
                effort = None
                if frc and limited(el, cls, ["joint"], "actuatorfrclimited", True):
                    effort = max(abs(frc[0]), abs(frc[1]))
                if name in joints:
                    raise ConfigError(f"{path}: joint {name!r} is defined twice")
                if name:
                    joints[name] = RobotJoint(name, kind, lower, upper, effort, actuated=False)

    for world in root.findall("worldbody"):
        walk(world, None)
    order: list[str] = []
    for section in root.findall("actuator"):
        for el in section:
            if el.tag not in _ACTUATORS or not el.get("joint"):
                continue  # tendon, site and body actuators do not command one joint
            name = el.get("joint", "")
            if name not in joints:
                raise ConfigError(f"{path}: actuator {el.get('name', el.tag)!r} names joint {name!r}, "
                                  f"which the model does not have")  # fmt: skip
            get = lambda key, e=el: attr(e, None, [e.tag, "general"], key)  # noqa: E731
            joints[name] = _actuate(joints[name], el, get, limited, path)
            order.append(name)
    return RobotDescription(f"MJCF {path.name}", list(joints.values()), order, ordered=False, complete=True)


def _actuate(
    joint: RobotJoint,
    el: ET.Element,
    get: Callable[[str], str | None],
    limited: Callable[[ET.Element, str | None, Sequence[str], str, bool], bool],
    path: Path,
) -> RobotJoint:
    """``joint`` with what actuator ``el`` says about it: mode, gains, effort limit at the joint."""
    where = f"{path}: actuator {el.get('name', el.tag)!r}"
    gear = abs((_floats(get("gear"), f"{where} gear") or [1.0])[0])
    ctrl = _floats(get("ctrlrange"), f"{where} ctrlrange")
    force = _floats(get("forcerange"), f"{where} forcerange")
    ctrl_limited = bool(ctrl) and limited(el, None, [el.tag, "general"], "ctrllimited", bool(ctrl))
    force_limited = bool(force) and limited(el, None, [el.tag, "general"], "forcelimited", bool(force))
    kp = kd = None
    gain = 1.0
    if el.tag == "motor":
        mode = "effort"
    elif el.tag == "position":
        mode, kp = "position", _float(get("kp"), f"{where} kp", 1.0)
        kd = _float(get("kv"), f"{where} kv")
    elif el.tag in ("velocity", "intvelocity"):
        mode, kd = "velocity", _float(get("kv"), f"{where} kv", 1.0)
    else:  # general: read the gain and bias the way the shortcuts write them
        gains = _floats(get("gainprm"), f"{where} gainprm") or [1.0]
        bias = (_floats(get("biasprm"), f"{where} biasprm") or []) + [0.0, 0.0, 0.0]
        gain = gains[0]
        if get("biastype") == "affine" and bias[1] < 0:
            mode, kp, kd = "position", -bias[1], (-bias[2] if bias[2] < 0 else None)
        elif get("biastype") == "affine" and bias[2] < 0:
            mode, kd = "velocity", -bias[2]
        else:
            mode = "effort"
    bounds = []
    if force_limited and force:
        bounds.append(max(abs(force[0]), abs(force[1])))
    if mode == "effort" and ctrl_limited and ctrl:
        bounds.append(abs(gain) * max(abs(ctrl[0]), abs(ctrl[1])))
    effort = gear * min(bounds) if bounds else None
    target = None
    if mode in ("position", "velocity") and ctrl_limited and ctrl and gear > 0:
        target = (min(ctrl[0], ctrl[1]) / gear, max(ctrl[0], ctrl[1]) / gear)
    if joint.effort_limit is not None:
        effort = joint.effort_limit if effort is None else min(effort, joint.effort_limit)
    return replace(
        joint, actuated=True, modes=tuple(dict.fromkeys((*joint.modes, mode))), effort_limit=effort,
        kp=kp if kp is not None else joint.kp, kd=kd if kd is not None else joint.kd,
        target_range=target or joint.target_range,
    )  # fmt: skip


def load_robot_description(path: str | Path) -> RobotDescription:
    """A URDF (root ``<robot>``) or MJCF (root ``<mujoco>``) file, told apart by its root element."""
    path = Path(path)
    try:
        tag = ET.parse(path).getroot().tag
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (ET.ParseError, OSError) as exc:
        raise ConfigError(f"{path}: not readable XML ({exc})") from None
    if tag == "robot":
        return parse_urdf(path)
    if tag == "mujoco":
        return parse_mjcf(path)
    raise ConfigError(f"{path}: the root element is <{tag}>; expected <robot> (URDF) or <mujoco> (MJCF)")
