"""IO spec: named observation fields in, named, scaled, limited commands out.

Sources (where a node reads an observation field), one group per ROS subscription:

- ``joint_state/{position,velocity,effort}/<joint_name>``   sensor_msgs/JointState, by name
- ``imu/orientation/{x,y,z,w}``, ``imu/angular_velocity/{x,y,z}``,
  ``imu/linear_acceleration/{x,y,z}``                         sensor_msgs/Imu
- ``odometry/pose/position/{x,y,z}``, ``odometry/pose/orientation/{x,y,z,w}``,
  ``odometry/twist/{linear,angular}/{x,y,z}``                 nav_msgs/Odometry
- ``twist/{linear,angular}/{x,y,z}``                        geometry_msgs/Twist
- ``vector/<index>``                                        std_msgs/Float64MultiArray
- ``last_action/<index>``                                   the node's own previous command

Targets (where a node writes a command): ``joint/<joint_name>``,
``twist/{linear,angular}/{x,y,z}``, ``vector/<index>``.

:class:`IOLayout` is the ``io:`` section of a scenario: optional per-field overrides of the
default layout (``obs_<i>`` from ``vector/<i>``, ``act_<i>`` to ``vector/<i>``), applied at
export so the bundle carries the final layout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rnn_control.errors import BundleError, ConfigError
from rnn_control.runtime.metadata import ActionField, BundleMetadata, ObservationField

XYZ = ("x", "y", "z")
XYZW = ("x", "y", "z", "w")

# group -> list of allowed fixed path prefixes and the allowed last components.
_FIXED_SOURCES: dict[str, dict[tuple[str, ...], tuple[str, ...]]] = {
    "imu": {("orientation",): XYZW, ("angular_velocity",): XYZ, ("linear_acceleration",): XYZ},
    "odometry": {
        ("pose", "position"): XYZ,
        ("pose", "orientation"): XYZW,
        ("twist", "linear"): XYZ,
        ("twist", "angular"): XYZ,
    },
    "twist": {("linear",): XYZ, ("angular",): XYZ},
}
JOINT_STATE_FIELDS = ("position", "velocity", "effort")

SOURCE_FORMS = (
    "joint_state/{position,velocity,effort}/<joint>, imu/orientation/{x,y,z,w}, "
    "imu/{angular_velocity,linear_acceleration}/{x,y,z}, odometry/pose/position/{x,y,z}, "
    "odometry/pose/orientation/{x,y,z,w}, odometry/twist/{linear,angular}/{x,y,z}, "
    "twist/{linear,angular}/{x,y,z}, vector/<index>, last_action/<index>"
)
TARGET_FORMS = "joint/<joint>, twist/{linear,angular}/{x,y,z}, vector/<index>"


@dataclass(frozen=True)
class Source:
    """A parsed source: ``group`` (one ROS subscription kind) and the ``path`` inside it."""

    group: str  # joint_state | imu | odometry | twist | vector | last_action
    path: tuple[str, ...]

    @property
    def index(self) -> int:
        """Element index for ``vector`` / ``last_action`` sources."""
        return int(self.path[0])

    def __str__(self) -> str:
        return "/".join((self.group, *self.path))


Target = Source
"""A parsed target has the same shape: group ``joint`` | ``twist`` | ``vector`` and a path."""


def _index(text: str) -> bool:
    return text.isdigit()


def parse_source(text: str) -> Source:
    """Parse an observation source; ``ValueError`` listing the allowed forms if malformed."""
    parts = tuple(text.strip().split("/")) if isinstance(text, str) else ()
    if parts:
        group, rest = parts[0], parts[1:]
        if group == "joint_state" and len(rest) >= 2 and rest[0] in JOINT_STATE_FIELDS and all(rest[1:]):
            return Source(group, (rest[0], "/".join(rest[1:])))
        if group in ("vector", "last_action") and len(rest) == 1 and _index(rest[0]):
            return Source(group, rest)
        for prefix, leaves in _FIXED_SOURCES.get(group, {}).items():
            if rest[:-1] == prefix and len(rest) == len(prefix) + 1 and rest[-1] in leaves:
                return Source(group, rest)
    raise ValueError(f"source {text!r} is not valid; allowed forms: {SOURCE_FORMS}")


def parse_target(text: str) -> Target:
    """Parse an action target; ``ValueError`` listing the allowed forms if malformed."""
    parts = tuple(text.strip().split("/")) if isinstance(text, str) else ()
    if parts:
        group, rest = parts[0], parts[1:]
        if group == "joint" and rest and all(rest):
            return Target(group, ("/".join(rest),))
        if group == "vector" and len(rest) == 1 and _index(rest[0]):
            return Target(group, rest)
        if group == "twist" and len(rest) == 2 and rest[0] in ("linear", "angular") and rest[1] in XYZ:
            return Target(group, rest)
    raise ValueError(f"target {text!r} is not valid; allowed forms: {TARGET_FORMS}")


class IOSpec:
    """Names, sources, targets, scaling and limits of a bundle, as arrays ready for the step path."""

    def __init__(self, observation: Sequence[ObservationField], action: Sequence[ActionField]) -> None:
        self.observation = list(observation)
        self.action = list(action)
        self.observation_names = [f.name for f in self.observation]
        self.action_names = [f.name for f in self.action]
        self.sources = [_parsed(parse_source, f.source, f"observation '{f.name}'") for f in self.observation]
        self.targets = [_parsed(parse_target, f.target, f"action '{f.name}'") for f in self.action]
        self.low = np.array([f.low for f in self.action], dtype=np.float64)
        self.high = np.array([f.high for f in self.action], dtype=np.float64)
        self.safe = np.clip(np.array([f.safe for f in self.action], dtype=np.float64), self.low, self.high)
        self.scale = np.array([f.scale for f in self.action], dtype=np.float64)
        self.offset = np.array([f.offset for f in self.action], dtype=np.float64)
        rates = [np.inf if f.max_rate is None else f.max_rate for f in self.action]
        self.max_rate = np.array(rates, dtype=np.float64)
        self._obs_index = {n: i for i, n in enumerate(self.observation_names)}

    @classmethod
    def from_metadata(cls, meta: BundleMetadata) -> IOSpec:
        return cls(meta.observation, meta.action)

    @property
    def obs_dim(self) -> int:
        return len(self.observation)

    @property
    def act_dim(self) -> int:
        return len(self.action)

    def build_observation(self, values: Mapping[str, float], out: np.ndarray | None = None) -> np.ndarray:
        """Observation vector (float32, model order) from a mapping field name -> value.

        A missing field raises ``KeyError`` naming it; extra keys are ignored.
        """
        missing = [n for n in self.observation_names if n not in values]
        if missing:
            raise KeyError(f"observation fields missing: {missing} (expected {self.observation_names})")
        if out is None:
            out = np.empty(self.obs_dim, dtype=np.float32)
        for i, name in enumerate(self.observation_names):
            out[i] = values[name]
        return out

    def to_command(self, raw: np.ndarray) -> np.ndarray:
        """``offset + scale * raw`` as float64 commands (no clipping: that is the safety filter's job)."""
        return self.offset + self.scale * np.asarray(raw, dtype=np.float64).reshape(-1)

    def sources_in_group(self, group: str) -> list[tuple[int, Source]]:
        """``(observation index, source)`` of every field read from one subscription group."""
        return [(i, s) for i, s in enumerate(self.sources) if s.group == group]

    def targets_in_group(self, group: str) -> list[tuple[int, Target]]:
        return [(i, t) for i, t in enumerate(self.targets) if t.group == group]


def _parsed(parser, text: str, where: str):
    try:
        return parser(text)
    except ValueError as exc:
        raise BundleError(f"{where}: {exc}") from None


# --------------------------------------------------------------------------- scenario io: section


@dataclass
class ObservationOverride:
    """Per-field override of the default observation layout (unset keys keep the default)."""

    name: str | None = None
    source: str | None = None
    unit: str | None = None


@dataclass
class ActionOverride:
    """Per-field override of the default action layout (unset keys keep the default).

    ``low``/``high`` may only narrow the action space's limits (command units, after scale/offset).
    """

    name: str | None = None
    target: str | None = None
    unit: str | None = None
    safe: float | None = None
    max_rate: float | None = None
    scale: float | None = None
    offset: float | None = None
    low: float | None = None
    high: float | None = None


@dataclass
class IOLayout:
    """The scenario's ``io:`` section: how the trained model meets the robot.

    ``observation``/``action`` are lists in model order (empty: keep the defaults; otherwise one
    entry per field). Example::

        io:
          observation:
            - {name: cos_theta, source: vector/0}
            - {name: sin_theta, source: vector/1}
          action:
            - {name: torque, target: joint/pole, unit: N*m, safe: 0.0, max_rate: 40.0}
    """

    observation: list[ObservationOverride] = field(default_factory=list)
    action: list[ActionOverride] = field(default_factory=list)

    def validate(self) -> None:
        for i, o in enumerate(self.observation):
            if o.source is not None:
                try:
                    parse_source(o.source)
                except ValueError as exc:
                    raise ConfigError(f"observation[{i}].source: {exc}") from None
        for i, a in enumerate(self.action):
            if a.target is not None:
                try:
                    parse_target(a.target)
                except ValueError as exc:
                    raise ConfigError(f"action[{i}].target: {exc}") from None
            if a.max_rate is not None and not a.max_rate > 0:
                raise ConfigError(f"action[{i}].max_rate: must be > 0, got {a.max_rate}")

    def apply(
        self, observation: list[ObservationField], action: list[ActionField], where: str = "io"
    ) -> tuple[list[ObservationField], list[ActionField]]:
        """Defaults with the overrides applied; ``ConfigError`` if the lengths do not match."""
        for what, over, base in (
            ("observation", self.observation, observation),
            ("action", self.action, action),
        ):
            if over and len(over) != len(base):
                raise ConfigError(
                    f"{where}.{what}: lists {len(over)} fields but the model has {len(base)}; "
                    f"give one entry per field (in model order) or none"
                )
        obs = [_merge(f, o) for f, o in zip(observation, self.observation)] + observation[
            len(self.observation) :
        ]
        act = []
        for i, f in enumerate(action):
            o = self.action[i] if self.action else ActionOverride()
            lo = f.low if o.low is None else max(f.low, o.low)
            hi = f.high if o.high is None else min(f.high, o.high)
            merged = _merge(f, dataclasses.replace(o, low=None, high=None))
            merged = dataclasses.replace(merged, low=lo, high=hi)
            if o.safe is None:
                merged = dataclasses.replace(merged, safe=float(np.clip(merged.safe, lo, hi)))
            try:
                merged.validate()
            except ConfigError as exc:
                raise ConfigError(f"{where}.action[{i}].{exc}") from None
            act.append(merged)
        return obs, act


def _merge(base, override):
    changes = {k: v for k, v in dataclasses.asdict(override).items() if v is not None}
    return dataclasses.replace(base, **changes)


def default_observation_fields(obs_dim: int) -> list[ObservationField]:
    """``obs_<i>`` read from ``vector/<i>``."""
    return [ObservationField(name=f"obs_{i}", source=f"vector/{i}") for i in range(obs_dim)]


def default_action_fields(low: Sequence[float], high: Sequence[float]) -> list[ActionField]:
    """``act_<i>`` written to ``vector/<i>`` with the given limits, safe = 0 clipped into them."""
    return [
        ActionField(name=f"act_{i}", target=f"vector/{i}", low=float(lo), high=float(hi),
                    safe=float(np.clip(0.0, lo, hi)))
        for i, (lo, hi) in enumerate(zip(low, high))
    ]  # fmt: skip
