"""``bag:`` section of a scenario: learn from rosbag2 recordings instead of a simulator.

It maps topics and message fields to the model's observations and commands in the bundle's field
grammar (:mod:`rnn_control.contract.fields`), and says how the streams are put on one time axis.
The reader is :mod:`rnn_control.bags`. Example::

    bag:
      paths: [logs/pendulum_run1]       # rosbag2 folders or .mcap/.db3 files (--bag overrides)
      typestore: ros2_humble            # for bags without embedded message definitions
      time_base: header                 # header stamps (log time for headerless messages) | log_time
      period: 0.05                      # control period in seconds (default: the reference topic's)
      resample: grid                    # grid: every `period`; reference: one step per reference message
      sensors: linear                   # sensor interpolation: linear | zoh | nearest
      commands: zoh                     # command alignment: zoh | linear | nearest
      command_at: end                   # a step's command: the one in force at its end (or start)
      max_gap: 3                        # gaps longer than this many periods split episodes
      episode_topic: /sim_bridge/episode_return   # any message here ends an episode ('' : none)
      heldout_fraction: 0.2             # the LAST 20 % of the recorded time is held out
      observation:
        - {topic: /joint_states, field: joint_state/position/hinge}
        - {topic: /joint_states, field: joint_state/velocity/hinge}
      action:
        - {topic: /effort_controller/commands, field: joint/hinge, joints: [hinge], low: -2, high: 2}

Observation fields use the source grammar (``last_action/<i>`` is the previous step's command
``i``, no topic needed); action fields use the target grammar (``vector/<i>`` from a
Float64MultiArray, ``twist/...`` from a Twist, ``joint/<name>`` from a JointState or a
JointTrajectory by name, or from a Float64MultiArray in ``joints`` order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from rnn_control.contract.fields import parse_source, parse_target
from rnn_control.errors import ConfigError

Interpolation = Literal["linear", "zoh", "nearest"]


@dataclass
class BagField:
    """One observation or action entry: which topic, which field (grammar), what to call it."""

    field: str
    topic: str = ""
    name: str = ""  # default: derived from the field (``joint_state/position/hinge`` -> ``hinge_position``)
    unit: str = ""
    # actions only: the command limits (default: the range seen in the bag) and, for joint/<name>
    # targets, which member of a JointState / JointTrajectory point carries the command and the
    # joint order of a Float64MultiArray
    low: float | None = None
    high: float | None = None
    command_field: Literal["position", "velocity", "effort"] = "position"
    joints: list[str] | None = None


@dataclass
class BagConfig:
    """The ``bag:`` section (see the module docstring)."""

    paths: list[str] = field(default_factory=list)
    typestore: str = ""
    time_base: Literal["header", "log_time"] = "header"
    period: float | None = None
    resample: Literal["grid", "reference"] = "grid"
    reference_topic: str = ""  # default: the first observation topic
    sensors: Interpolation = "linear"
    commands: Interpolation = "zoh"
    command_at: Literal["end", "start"] = "end"
    max_gap: float = 3.0
    episode_topic: str = ""
    min_episode_steps: int = 16
    heldout_fraction: float = 0.2
    # a backwards jump of the time base larger than max_gap periods: split there, or stop
    on_time_reversal: Literal["split", "error"] = "split"
    observation: list[BagField] = field(default_factory=list)
    action: list[BagField] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        """True when the section maps at least one observation (an empty section: no bag)."""
        return bool(self.observation)

    def validate(self) -> None:
        if not self.observation and not self.action:
            return  # the section is absent
        if not self.observation:
            raise ConfigError("observation: list at least one {topic, field} entry")
        if not self.action:
            raise ConfigError("action: list at least one {topic, field} entry (the commands)")
        for i, f in enumerate(self.observation):
            try:
                path = parse_source(f.field)
            except ValueError as exc:
                raise ConfigError(f"observation[{i}].field: {exc}") from None
            if path.group == "last_action":
                if path.index >= len(self.action):
                    raise ConfigError(
                        f"observation[{i}].field: {f.field} names command {path.index} but the "
                        f"action list has {len(self.action)}"
                    )
            elif not f.topic:
                raise ConfigError(f"observation[{i}].topic: name the topic that carries {f.field}")
        for i, f in enumerate(self.action):
            try:
                parse_target(f.field)
            except ValueError as exc:
                raise ConfigError(f"action[{i}].field: {exc}") from None
            if not f.topic:
                raise ConfigError(f"action[{i}].topic: name the topic that carries {f.field}")
            if f.low is not None and f.high is not None and not f.low <= f.high:
                raise ConfigError(f"action[{i}]: need low <= high, got [{f.low}, {f.high}]")
        for what, fields in (("observation", self.observation), ("action", self.action)):
            names = [f.name for f in fields if f.name]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ConfigError(f"{what}: duplicate names {dup}")
        if self.period is not None and not (math.isfinite(self.period) and self.period > 0):
            raise ConfigError(f"period: must be > 0 seconds, got {self.period}")
        if not self.max_gap >= 1:
            raise ConfigError(f"max_gap: must be >= 1 period, got {self.max_gap}")
        if self.min_episode_steps < 2:
            raise ConfigError(f"min_episode_steps: must be >= 2, got {self.min_episode_steps}")
        if not 0 <= self.heldout_fraction < 1:
            raise ConfigError(f"heldout_fraction: must be in [0, 1), got {self.heldout_fraction}")
        topics = {f.topic for f in self.observation if f.topic}
        if self.reference_topic and self.reference_topic not in topics:
            raise ConfigError(
                f"reference_topic: '{self.reference_topic}' is not one of the observation topics "
                f"{sorted(topics)}"
            )
