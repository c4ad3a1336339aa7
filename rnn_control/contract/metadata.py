"""The bundle metadata: what a node needs to turn messages into an observation and an output into
commands, stored as JSON under ``metadata_props["rnn_control"]`` of the ONNX file.

:func:`metadata_from_json` / :func:`metadata_from_dict` validate it; every problem is a
:class:`~rnn_control.errors.BundleError` naming the field. Reading it out of an ONNX file is the
runtime's job (``rnn_control.runtime.read_bundle_metadata``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rnn_control.config import from_dict, to_dict
from rnn_control.contract.fields import FieldPath, parse_source, parse_target
from rnn_control.errors import BundleError, ConfigError

SCHEMA_VERSION = 2
"""Bumped when the metadata layout changes (2: the per-joint deployment contract of ActionField)."""

METADATA_KEY = "rnn_control"
"""Key of the JSON metadata inside the ONNX model's ``metadata_props``."""

STATELESS_CELL = "none"
"""``cell`` of a feed-forward bundle (no recurrent state inputs)."""


@dataclass
class ObservationField:
    """One entry of the model's input vector."""

    name: str
    source: str  # where a node reads it; grammar in contract.fields (e.g. "joint_state/position/pole")
    unit: str = ""


CONTROL_MODES = ("effort", "position", "velocity")
"""How a joint target is commanded: a torque/force, a position target for the robot's PD loop
(``kp``/``kd``), or a velocity target."""


JOINT_CONTRACT_KEYS = ("default_position", "kp", "kd", "effort_limit")


@dataclass
class ActionField:
    """One entry of the model's output vector and the command it becomes.

    ``command = offset + scale * model_output``, then clipped to ``[low, high]`` (command units).

    A ``joint/<name>`` target also carries the joint's deployment contract (``mode`` set):

    - ``effort``: the command is the joint torque/force; ``effort_limit`` bounds it.
    - ``position``: the command is a position target, ``default_position + scale * output``
      (``offset`` is the default position), which the robot's PD loop tracks with gains ``kp``
      and ``kd`` (effort = kp (target - q) - kd dq/dt, clipped to ``effort_limit``); ``low``/``high``
      are the joint's position limits and the safe command holds the default position.
    - ``velocity``: the command is a velocity target (``kd`` the loop gain, if the robot needs one).
    """

    name: str
    target: str  # where a node writes it; grammar in contract.fields (e.g. "joint/pole", "vector/0")
    low: float
    high: float
    safe: float = 0.0  # command sent when the model cannot be trusted (bad input, non-finite output)
    scale: float = 1.0
    offset: float = 0.0
    max_rate: float | None = None  # slew limit, command units per second
    unit: str = ""
    mode: Literal["effort", "position", "velocity"] | None = None  # joint targets only
    default_position: float | None = None  # rad or m: the joint's pose for a zero output
    kp: float | None = None  # position mode: stiffness, effort units per position unit
    kd: float | None = None  # damping, effort units per velocity unit
    effort_limit: float | None = None  # |effort| the actuator can apply

    def validate(self) -> None:
        if math.isnan(self.low) or math.isnan(self.high) or self.low > self.high:
            raise ConfigError(f"low/high: need low <= high, got [{self.low}, {self.high}]")
        if not math.isfinite(self.safe) or not self.low <= self.safe <= self.high:
            raise ConfigError(f"safe: {self.safe} must be finite and inside [{self.low}, {self.high}]")
        if not (math.isfinite(self.scale) and math.isfinite(self.offset)):
            raise ConfigError(f"scale/offset: must be finite, got {self.scale}/{self.offset}")
        if self.max_rate is not None and not self.max_rate > 0:
            raise ConfigError(f"max_rate: must be > 0 (command units per second), got {self.max_rate}")
        self._validate_joint_contract()

    def _validate_joint_contract(self) -> None:
        joint = self.target.startswith("joint/")
        if self.mode is None:
            extra = [k for k in JOINT_CONTRACT_KEYS if getattr(self, k) is not None]
            if extra:
                raise ConfigError(f"{extra}: only a joint target with a control mode carries these")
            return
        if not joint:
            raise ConfigError(f"mode: only joint/<name> targets have a control mode, not '{self.target}'")
        for gain in ("kp", "kd"):
            value = getattr(self, gain)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{gain}: gains must be finite and >= 0, got {value} for '{self.target}'")
        if self.effort_limit is not None and not self.effort_limit > 0:
            raise ConfigError(f"effort_limit: must be > 0, got {self.effort_limit} for '{self.target}'")
        if self.mode == "position":
            if self.kp is None or self.kd is None:
                raise ConfigError(f"kp/kd: position mode needs both gains for '{self.target}'")
            if self.default_position is None or not math.isfinite(self.default_position):
                raise ConfigError(f"default_position: position mode needs a finite one for '{self.target}'")
            if self.offset != self.default_position:
                raise ConfigError(
                    f"offset: in position mode it is the default position ({self.default_position}), "
                    f"got {self.offset} for '{self.target}'"
                )

    @property
    def joint(self) -> str | None:
        """The joint name of a ``joint/<name>`` target, else ``None``."""
        return self.target[len("joint/") :] if self.target.startswith("joint/") else None


PLANNING_GRAPHS = ("unrolled", "loop")
"""How a planning bundle covers the horizon: every step spelled out, or an ONNX ``Loop``."""


@dataclass
class PlanningSpec:
    """What makes a dynamics bundle a *planning* bundle (the MPC node's model).

    One call of its graph filters the recurrent state on the last real (observation, command)
    pair and rolls ``batch`` candidate action sequences of ``horizon`` steps out from the filtered
    state through every one of ``members`` ensemble members (tensors: ``contract.tensors``).
    ``commands`` is the command layout the planned actions become (targets, limits, safe value,
    scale and offset, as a policy bundle's ``action`` list): a planned action is in model units,
    the command ``offset + scale * action``.
    """

    batch: int
    horizon: int
    commands: list[ActionField]
    members: int = 1
    graph: Literal["unrolled", "loop"] = "unrolled"

    def validate(self) -> None:
        for name in ("batch", "horizon", "members"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not self.commands:
            raise ConfigError("commands: must list at least one command field")


@dataclass
class BundleMetadata:
    """Everything a deployment needs to know about a bundle.

    For a dynamics bundle, ``observation`` lists the model inputs (sensor fields, then command
    fields) and ``action`` lists the predicted next-observation fields; ``has_std`` says whether
    the graph also outputs a ``std`` tensor.
    """

    schema_version: int
    kind: Literal["policy", "dynamics"]
    cell: str  # rnn | lstm | gru | tgru | none (feed-forward)
    num_layers: int
    hidden_size: int
    observation: list[ObservationField]
    action: list[ActionField]
    control_period: float  # seconds per step (nominal)
    time_aware: bool = False
    has_std: bool = False
    scenario: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, Any] = field(default_factory=dict)
    # dynamics bundles: the monitor's alarm calibrated on nominal held-out data (statistic, window,
    # threshold, target false alarms per hour; rnn_control.train.dynamics.calibrate); {}: none
    monitor: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    precision: str = "fp32"  # fp32 | fp16 | int8
    producer: str = "rnn_control"  # "rnn_control", or "sidecar" for foreign bundles
    planning: PlanningSpec | None = None  # set: a planning variant of a dynamics bundle (MPC)

    def validate(self) -> None:
        if self.schema_version > SCHEMA_VERSION:
            raise ConfigError(
                f"schema_version: {self.schema_version} is newer than this runtime understands "
                f"({SCHEMA_VERSION}); upgrade rnn_control"
            )
        if not self.observation:
            raise ConfigError("observation: must list at least one field")
        if not self.action:
            raise ConfigError("action: must list at least one field")
        if not self.control_period > 0:
            raise ConfigError(f"control_period: must be > 0 seconds, got {self.control_period}")
        if self.cell != STATELESS_CELL and (self.num_layers < 1 or self.hidden_size < 1):
            raise ConfigError(
                f"num_layers/hidden_size: must be >= 1 for cell {self.cell!r}, "
                f"got {self.num_layers}/{self.hidden_size}"
            )
        for what, fields in (("observation", self.observation), ("action", self.action)):
            names = [f.name for f in fields]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ConfigError(f"{what}: duplicate field names {dup}")
        if self.planning is not None:
            if self.kind != "dynamics" or not self.stateful or self.time_aware:
                raise ConfigError(
                    f"planning: only a recurrent (rnn/lstm/gru) dynamics bundle can plan, not a "
                    f"{self.cell} {self.kind} bundle (a time-aware cell needs each step's dt)"
                )
            if self.obs_dim != self.act_dim + len(self.planning.commands):
                raise ConfigError(
                    f"planning.commands: {len(self.planning.commands)} commands, but the model reads "
                    f"{self.obs_dim} inputs for {self.act_dim} predicted fields"
                )

    @property
    def obs_dim(self) -> int:
        return len(self.observation)

    @property
    def act_dim(self) -> int:
        return len(self.action)

    @property
    def is_lstm(self) -> bool:
        return self.cell == "lstm"

    @property
    def stateful(self) -> bool:
        return self.cell != STATELESS_CELL

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=None, sort_keys=False)


def metadata_from_dict(data: Any, where: str = "metadata") -> BundleMetadata:
    """Validate a plain mapping as :class:`BundleMetadata` (``BundleError`` naming the field),
    the field grammar of every source and target included."""
    try:
        meta = from_dict(BundleMetadata, data, where=where)
    except ConfigError as exc:
        raise BundleError(str(exc)) from None
    parse_fields(meta.observation, meta.action, where, meta.planning)
    return meta


def parse_fields(
    observation: Sequence[ObservationField],
    action: Sequence[ActionField],
    where: str = "",
    planning: PlanningSpec | None = None,
) -> tuple[list[FieldPath], list[FieldPath]]:
    """The parsed source of every observation field and target of every action field;
    ``BundleError`` naming the first field that breaks the grammar (see :mod:`.fields`)."""
    prefix = f"{where}: " if where else ""

    def parsed(parser, text: str, what: str) -> FieldPath:
        try:
            return parser(text)
        except ValueError as exc:
            raise BundleError(f"{prefix}{what}: {exc}") from None

    sources = [parsed(parse_source, f.source, f"observation '{f.name}'") for f in observation]
    if planning is not None:
        for f in planning.commands:
            parsed(parse_target, f.target, f"planning command '{f.name}'")
    targets = [parsed(parse_target, f.target, f"action '{f.name}'") for f in action]
    return sources, targets


def metadata_from_json(text: str, where: str = "metadata") -> BundleMetadata:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{where}: metadata is not valid JSON ({exc})") from None
    return metadata_from_dict(data, where)
