"""``env.robot:`` section of a scenario: your own robot from an MJCF file, no Gymnasium class.

::

    env:
      robot:
        mjcf: robots/arm3.xml          # relative: the scenario folder, cwd, sim/, sim/robots/
        frame_skip: 10                 # physics steps per control step (period = MJCF timestep x frame_skip)
        joints:                        # the commanded joints, in command order
          - {name: shoulder, mode: position, default: 0.0, kp: 8.0, kd: 0.4, scale: 1.0}
        observation:                   # terms (rnn_control.envs.robots.terms), in this order
          - joint_position
          - joint_velocity: {joints: [shoulder]}
          - target_position: {body: target, axes: [x, y]}
        reward:                        # weighted terms, summed each step
          - reach_target: {weight: 1.0, body: fingertip}
          - action_rate: {weight: 0.01}
        termination:
          - time_limit: {seconds: 4.0}
        target: {body: target, low: [-0.4, -0.4, 0.0], high: [0.4, 0.4, 0.0]}

Leaf module (dataclasses only): names and parameters are checked when the scenario loads; that
the MJCF has the named joints and bodies is checked when the env is built
(``rnn_control.envs.robots.joint_env``). Term lists are kept as written (a term name, or a one-key
mapping ``{name: {params}}``) and parsed by :func:`parse_terms`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from rnn_control.config import from_dict
from rnn_control.errors import ConfigError

JOINT_SPACE_ID = "rnn_control/JointSpace-v0"
"""Gymnasium id of the joint-space env a robot section builds (registered where envs are built)."""

OBSERVATION_TERMS = (
    "joint_position",
    "joint_velocity",
    "joint_effort",
    "base_orientation",
    "base_angular_velocity",
    "base_linear_acceleration",
    "base_linear_velocity",
    "base_height",
    "target_position",
    "velocity_command",
)
REWARD_TERMS = ("velocity_tracking", "upright", "alive", "reach_target", "torque", "energy", "action_rate")
TERMINATION_TERMS = ("fall", "tilt", "time_limit")
COMMAND_AXES = ("linear/x", "linear/y", "angular/z")


@dataclass
class ObservationTerm:
    """One observation term. ``joints``: joint terms only (default: every robot joint);
    ``axes``: base and task terms only (components, e.g. ``[y, w]`` of a planar robot's
    orientation; default: all); ``body``: ``target_position`` only (default ``target``)."""

    term: str
    joints: list[str] | None = None
    axes: list[str] | None = None
    body: str | None = None

    def validate(self) -> None:
        if self.joints is not None and not self.term.startswith("joint_"):
            raise ConfigError(f"joints: only joint_* terms take joints, not '{self.term}'")
        if self.body is not None and self.term != "target_position":
            raise ConfigError(f"body: only target_position takes a body, not '{self.term}'")
        _unique(self.joints, "joints")
        _unique(self.axes, "axes")


@dataclass
class RewardTerm:
    """One reward term, multiplied by ``weight`` (see ``rnn_control.envs.robots.rewards``).

    ``body``: reach_target's end effector (required there); ``target``: the body it reaches for;
    ``sigma``: velocity_tracking's width, exp(-|error|^2 / sigma)."""

    term: str
    weight: float = 1.0
    body: str | None = None
    target: str = "target"
    sigma: float = 0.25

    def validate(self) -> None:
        if not math.isfinite(self.weight):
            raise ConfigError(f"weight: must be finite, got {self.weight}")
        if self.term == "reach_target" and not self.body:
            raise ConfigError("body: reach_target needs the end-effector body (e.g. body: fingertip)")
        if not self.sigma > 0:
            raise ConfigError(f"sigma: must be > 0, got {self.sigma}")


@dataclass
class TerminationTerm:
    """``fall``: base below ``min_height`` m; ``tilt``: base up-axis more than ``max_angle`` rad
    from vertical; ``time_limit``: the episode is cut (truncated) after ``seconds``."""

    term: str
    min_height: float | None = None
    max_angle: float | None = None
    seconds: float | None = None

    def validate(self) -> None:
        need = {"fall": "min_height", "tilt": "max_angle", "time_limit": "seconds"}[self.term]
        for key in ("min_height", "max_angle", "seconds"):
            value = getattr(self, key)
            if key == need and value is None:
                raise ConfigError(f"{key}: {self.term} needs it")
            if key != need and value is not None:
                raise ConfigError(f"{key}: not a parameter of {self.term} (it takes {need})")
        if need != "min_height" and not getattr(self, need) > 0:
            raise ConfigError(f"{need}: must be > 0, got {getattr(self, need)}")


@dataclass
class JointSpec:
    """One commanded joint and its deployment contract.

    ``command = offset + scale * output``: in ``position`` mode the offset is ``default`` and the
    env's PD loop tracks the target at every physics step (``effort = kp (target - q) - kd dq``,
    clipped to ``effort_limit``); ``velocity`` mode: ``effort = kd (target - dq)``; ``effort``
    mode: the command is the effort. ``effort_limit`` null: the MJCF actuator's limit.
    """

    name: str
    mode: Literal["effort", "position", "velocity"] = "position"
    default: float = 0.0
    kp: float | None = None
    kd: float | None = None
    scale: float = 1.0
    effort_limit: float | None = None

    def validate(self) -> None:
        for gain in ("kp", "kd"):
            value = getattr(self, gain)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ConfigError(
                    f"{gain}: gains must be finite and >= 0, got {value} for joint '{self.name}'"
                )
        if self.mode == "position" and (self.kp is None or self.kd is None):
            raise ConfigError(f"kp/kd: position mode needs both gains for joint '{self.name}'")
        if self.mode == "velocity" and self.kd is None:
            raise ConfigError(f"kd: velocity mode needs the loop gain kd for joint '{self.name}'")
        if not (math.isfinite(self.scale) and self.scale != 0):
            raise ConfigError(f"scale: must be finite and non-zero, got {self.scale} for joint '{self.name}'")
        if not math.isfinite(self.default):
            raise ConfigError(f"default: must be finite, got {self.default} for joint '{self.name}'")
        if self.effort_limit is not None and not self.effort_limit > 0:
            raise ConfigError(f"effort_limit: must be > 0, got {self.effort_limit} for joint '{self.name}'")


@dataclass
class TargetConfig:
    """A target body (a ``mocap`` body in the MJCF) moved to a uniform point of the box
    ``[low, high]`` (world x, y, z) at every reset."""

    body: str = "target"
    low: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    high: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    def validate(self) -> None:
        if len(self.low) != 3 or len(self.high) != 3 or any(lo > hi for lo, hi in zip(self.low, self.high)):
            raise ConfigError(f"low/high: need 3 values each with low <= high, got {self.low}, {self.high}")


@dataclass
class RobotConfig:
    """``env.robot:``: a :class:`~rnn_control.envs.robots.joint_env.JointSpaceEnv` (module doc)."""

    mjcf: str
    joints: list[JointSpec]
    observation: list[Any]
    reward: list[Any] = field(default_factory=list)
    termination: list[Any] = field(default_factory=list)
    frame_skip: int = 4
    target: TargetConfig | None = None
    # Velocity commands drawn per episode: {"linear/x": [low, high], ...} (twist/<axis> sources).
    command: dict[str, list[float]] = field(default_factory=dict)
    reset_noise: float = 0.0  # joint positions at reset: default + U(-reset_noise, reset_noise)
    scenario_dir: str | None = None  # set when the scenario loads: relative mjcf paths start here

    def validate(self) -> None:
        if not self.mjcf:
            raise ConfigError("mjcf: must name an MJCF file, e.g. robots/arm3.xml")
        if not self.joints:
            raise ConfigError("joints: must list at least one commanded joint")
        names = [j.name for j in self.joints]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"joints: duplicated joint names {dup}")
        if self.frame_skip < 1:
            raise ConfigError(f"frame_skip: must be >= 1, got {self.frame_skip}")
        if not self.reset_noise >= 0:
            raise ConfigError(f"reset_noise: must be >= 0, got {self.reset_noise}")
        for axis, r in self.command.items():
            if axis not in COMMAND_AXES:
                raise ConfigError(f"command: unknown axis '{axis}'; choose from {', '.join(COMMAND_AXES)}")
            if len(r) != 2 or r[0] > r[1]:
                raise ConfigError(f"command.{axis}: expected [low, high] with low <= high, got {r}")
        if not self.observation:
            raise ConfigError("observation: must list at least one term")
        self.observation_terms()
        self.reward_terms()
        self.termination_terms()

    def observation_terms(self) -> list[ObservationTerm]:
        return parse_terms(ObservationTerm, self.observation, OBSERVATION_TERMS, "observation")

    def reward_terms(self) -> list[RewardTerm]:
        return parse_terms(RewardTerm, self.reward, REWARD_TERMS, "reward")

    def termination_terms(self) -> list[TerminationTerm]:
        return parse_terms(TerminationTerm, self.termination, TERMINATION_TERMS, "termination")


def parse_terms(cls: type, raw: list[Any], names: tuple[str, ...], where: str) -> list[Any]:
    """Term entries as written (``name`` or ``{name: {params}}``) -> ``cls`` instances, with
    unknown names and parameters reported by position."""
    out = []
    for i, item in enumerate(raw or []):
        here = f"{where}[{i}]"
        if isinstance(item, str):
            name, params = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, params = next(iter(item.items()))
            params = params or {}
        else:
            raise ConfigError(f"{here}: expected a term name or a one-key mapping like '- {names[0]}: {{}}'")
        if name not in names:
            raise ConfigError(f"{here}: unknown term '{name}'; choose one of: {', '.join(names)}")
        if not isinstance(params, dict) or "term" in params:
            raise ConfigError(f"{here}.{name}: expected a mapping of parameters")
        out.append(from_dict(cls, {"term": name, **params}, f"{here}.{name}"))
    return out


def _unique(values: list[str] | None, what: str) -> None:
    if values is not None:
        dup = sorted({v for v in values if values.count(v) > 1})
        if dup:
            raise ConfigError(f"{what}: duplicated {dup}")
        if not values:
            raise ConfigError(f"{what}: must not be empty (leave it out for all)")
