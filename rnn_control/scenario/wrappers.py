"""Parameters of the environment wrappers a scenario's ``env.wrappers`` list may name.

Each wrapper's YAML name maps to a dataclass of its parameters; :class:`~.env.EnvConfig`
validates every entry against it, so a typo in a YAML file is caught before any work starts.
The wrappers themselves live in ``rnn_control.envs.wrappers`` (one module per name).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rnn_control.errors import ConfigError
from rnn_control.scenario.robot import OBSERVATION_TERMS, ObservationTerm, parse_terms

RANDOMIZED_PARAMETERS = ("mass", "friction", "damping", "actuator_gain")
"""What domain randomisation can scale (MuJoCo body masses, geom friction, dof damping, gains)."""


@dataclass
class ActionRepeatParams:
    repeat: int = 2

    def validate(self) -> None:
        if self.repeat < 1:
            raise ConfigError(f"repeat: must be >= 1, got {self.repeat}")


@dataclass
class DomainRandomizationParams:
    """Each entry is ``[low, high]`` scale factors around the model's nominal values, or null."""

    mass: list[float] | None = None
    friction: list[float] | None = None
    damping: list[float] | None = None
    actuator_gain: list[float] | None = None
    # True: one factor per body/geom/dof/actuator; False: one factor per parameter kind.
    per_element: bool = True

    def validate(self) -> None:
        for name in RANDOMIZED_PARAMETERS:
            r = getattr(self, name)
            if r is not None and (len(r) != 2 or not 0 < r[0] <= r[1]):
                raise ConfigError(f"{name}: expected [low, high] with 0 < low <= high, got {r}")


@dataclass
class DtJitterParams:
    """``jitter``: relative half-width of the uniform dt distribution (0.3: dt in [0.7, 1.3] x nominal).
    ``nominal_dt``: seconds; default: the env's own step duration."""

    jitter: float = 0.2
    nominal_dt: float | None = None

    def validate(self) -> None:
        if not 0.0 <= self.jitter < 1.0:
            raise ConfigError(f"jitter: must be in [0, 1), got {self.jitter}")
        if self.nominal_dt is not None and self.nominal_dt <= 0:
            raise ConfigError(f"nominal_dt: must be > 0 seconds, got {self.nominal_dt}")


@dataclass
class FaultParams:
    """``at_time``: seconds of simulated time (since the env was made) when the fault strikes;
    ``actuator_gain``: factor on every command from then on (0.7: 30 % loss); ``payload``: factor
    on the moving mass (1.5: 50 % more; ``payload_body``: a MuJoCo body, default the last)."""

    at_time: float = 10.0
    actuator_gain: float = 1.0
    payload: float = 1.0
    payload_body: str = ""

    def validate(self) -> None:
        if not (math.isfinite(self.at_time) and self.at_time >= 0):
            raise ConfigError(f"at_time: must be >= 0 seconds, got {self.at_time}")
        for name in ("actuator_gain", "payload"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ConfigError(f"{name}: must be a factor > 0, got {getattr(self, name)}")


@dataclass
class JointSpaceParams:
    """``terms``: the observation terms of a Gymnasium MuJoCo robot, in order: names
    (``joint_position``) or one-key mappings (``base_orientation: {axes: [y, w]}``); see
    ``rnn_control.envs.robots.terms``. Must come first in ``env.wrappers``."""

    terms: list[Any] = field(default_factory=lambda: ["joint_position", "joint_velocity"])

    def validate(self) -> None:
        if not self.terms:
            raise ConfigError("terms: must list at least one observation term")
        parse_terms(ObservationTerm, self.terms, OBSERVATION_TERMS, "terms")


@dataclass
class LatencyParams:
    """``action_delay``/``obs_delay``: delays in env steps (0 = none)."""

    action_delay: int = 1
    obs_delay: int = 0

    def validate(self) -> None:
        if self.action_delay < 0 or self.obs_delay < 0:
            raise ConfigError(f"delays must be >= 0 steps, got {self.action_delay}, {self.obs_delay}")


@dataclass
class MaskVelocityParams:
    """``keep``: indices to keep; default: the known position entries of the env."""

    keep: list[int] | None = None


@dataclass
class ObsNoiseParams:
    """``std``: noise standard deviation, one number for all entries or one per entry.
    ``bias_std``: std of a constant offset drawn per episode (a miscalibrated sensor)."""

    std: float | list[float] = 0.01
    bias_std: float | list[float] = 0.0

    def validate(self) -> None:
        for name in ("std", "bias_std"):
            value = getattr(self, name)
            values = value if isinstance(value, list) else [value]
            if any(not (math.isfinite(v) and v >= 0) for v in values):
                raise ConfigError(f"{name}: must be >= 0, got {getattr(self, name)}")


@dataclass
class FrameStackParams:
    """``frames``: how many observations, the newest last (a feed-forward baseline's memory)."""

    frames: int = 4

    def validate(self) -> None:
        if self.frames < 1:
            raise ConfigError(f"frames: must be >= 1, got {self.frames}")


@dataclass
class PrivilegedObsParams:
    """No parameters: it copies the observation where it stands in the list (put it first)."""

    def validate(self) -> None:
        pass


WRAPPER_PARAMS: dict[str, type] = {
    "action_repeat": ActionRepeatParams,
    "domain_randomization": DomainRandomizationParams,
    "dt_jitter": DtJitterParams,
    "fault": FaultParams,
    "frame_stack": FrameStackParams,
    "joint_space": JointSpaceParams,
    "latency": LatencyParams,
    "mask_velocity": MaskVelocityParams,
    "obs_noise": ObsNoiseParams,
    "privileged_obs": PrivilegedObsParams,
}
"""YAML name -> parameter dataclass of every wrapper (the wrapper table in envs uses the same names)."""
