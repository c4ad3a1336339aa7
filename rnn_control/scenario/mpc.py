"""``mpc:`` section of a scenario: the planner and the cost model-predictive control minimises.

Example (``sim/pendulum_novel.yaml``: Pendulum-v1's reward, as a cost)::

    mpc:
      planner: mppi              # or cem (iCEM: coloured noise, elites kept and shifted)
      samples: 256               # K candidates per iteration (0: the planning bundle's batch)
      horizon: 30                # H steps (0: the bundle's)
      cost:
        terms:
          - {kind: angle, fields: [cos_theta, sin_theta], weight: 1.0}   # theta^2, wrapped
          - {kind: rate, fields: [cos_theta, sin_theta], weight: 0.1}    # theta_dot^2 (finite difference)
          - {kind: quadratic, field: torque, weight: 0.001}              # u^2

Cost terms name fields of the bundle: observation fields (the predicted value after each planned
step) or command fields (the planned action). Kinds, with ``v`` the field's value:

- ``quadratic``: ``weight * (v - target)^2``;
- ``angle``: ``weight * wrap(v - target)^2``, ``v`` an angle field or ``atan2(sin, cos)`` of
  ``fields: [cos, sin]``;
- ``rate``: ``weight * (dv / dt)^2`` over consecutive steps (the first from the current
  observation or the last command; angles wrapped): a velocity the model does not observe, or a
  smoothness term on a command;
- ``barrier``: ``weight * (max(0, low - v)^2 + max(0, v - high)^2)``: soft limits;
- ``linear``: ``weight * (v - target)`` (a negative weight rewards ``v``, e.g. forward speed);
- ``distance``: ``weight * ||v - target||`` over ``fields`` (a Euclidean distance).

``terminal_weight`` multiplies the observation terms of the last step, ``discount`` weighs step
``k`` by ``discount^k``; ``function: "module:function"`` adds a cost the terms cannot express
(see ``rnn_control.runtime.planners.costs``); ``disagreement`` penalises the spread of an
ensemble's predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from typing import Literal

from rnn_control.errors import ConfigError

TERM_KINDS = ("quadratic", "angle", "rate", "barrier", "linear", "distance")
MAX_SAMPLES = 65536
MAX_HORIZON = 1000


@dataclass
class CostTerm:
    """One term of the cost (see the module docstring for the kinds)."""

    kind: Literal["quadratic", "angle", "rate", "barrier", "linear", "distance"]
    field: str = ""  # one observation or command field
    fields: list[str] = _field(default_factory=list)  # angle/rate: [cos, sin]; distance: a vector
    weight: float = 1.0
    target: float = 0.0
    low: float | None = None  # barrier
    high: float | None = None
    angle: bool = False  # rate/quadratic of an angle field: wrap differences to [-pi, pi)

    def validate(self) -> None:
        if bool(self.field) == bool(self.fields):
            raise ConfigError(f"{self.kind}: give exactly one of 'field' (a name) or 'fields' (a list)")
        if self.fields and self.kind in ("angle", "rate") and len(self.fields) != 2:
            raise ConfigError(
                f"{self.kind}: 'fields' must be [cos_field, sin_field] (the angle is atan2(sin, cos)), "
                f"got {self.fields}"
            )
        if self.fields and self.kind not in ("angle", "rate", "distance"):
            raise ConfigError(f"{self.kind}: takes one 'field'; 'fields' is for angle, rate and distance")
        if self.kind == "barrier" and self.low is None and self.high is None:
            raise ConfigError("barrier: set low and/or high")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ConfigError(f"barrier: low {self.low} > high {self.high}")

    @property
    def names(self) -> list[str]:
        """Every field the term reads."""
        return [self.field] if self.field else list(self.fields)


@dataclass
class CostConfig:
    """What the planner minimises."""

    terms: list[CostTerm] = _field(default_factory=list)
    terminal_weight: float = 1.0
    discount: float = 1.0
    function: str = ""  # "package.module:function", added to the terms
    disagreement: float = 0.0  # ensemble: weight of the members' prediction spread

    def validate(self) -> None:
        if self.function and ":" not in self.function:
            raise ConfigError(f"function: expected 'module:function', got '{self.function}'")
        if not 0 < self.discount <= 1:
            raise ConfigError(f"discount: must be in (0, 1], got {self.discount}")
        if self.terminal_weight < 0 or self.disagreement < 0:
            raise ConfigError("terminal_weight and disagreement: must be >= 0")


@dataclass
class LoopConfig:
    """``mpc.loop``: the model-based learning loop (``rnn-control train-mbrl``, PETS-style)."""

    iterations: int = 10  # collect with MPC on the current model, refit, repeat
    initial_episodes: int = 2  # exploration episodes before the first model
    exploration: Literal["random", "pink", "ou", "scripted", "mixed"] = "random"
    initial_updates: int = 1000  # dynamics updates on the initial data
    episodes: int = 1  # MPC episodes collected per iteration
    updates: int = 300  # dynamics updates after each iteration's episodes
    target_return: float | None = None  # stop when an iteration's mean return reaches it
    refit_normalizers: bool = False  # set the model's normalisers from all data at every refit

    def validate(self) -> None:
        for name in ("iterations", "initial_episodes", "initial_updates", "episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.updates < 0:
            raise ConfigError(f"updates: must be >= 0, got {self.updates}")


@dataclass
class MpcConfig:
    """Settings of the MPC node, the in-process MPC and the model-based loop."""

    planner: Literal["mppi", "cem"] = "mppi"
    samples: int = 0  # K candidates per iteration; 0: the planning bundle's batch
    horizon: int = 0  # H; 0: the bundle's horizon
    iterations: int = 1  # rollouts per tick (a deadline may stop earlier)
    noise_std: float = 0.5  # sampling std, as a fraction of each command's half-range
    noise_beta: float = 1.0  # coloured noise exponent along time (0 white, 1 pink, 2 red)
    temperature: float = 1.0  # MPPI: lambda of the exponential weights (cost units)
    elites: int = 16  # CEM: candidates the distribution is refitted to
    keep_elites: float = 0.3  # CEM: share of the elites kept into the next iteration and tick
    momentum: float = 0.1  # CEM: weight of the old mean/std in each refit
    min_std: float = 0.05  # CEM: lower bound of the std (fraction of the half-range)
    execute: Literal["mean", "best"] = "mean"  # first action of the mean plan or of the best candidate
    warm_start: bool = True  # start from the previous plan, shifted by one step
    deadline: float = 0.8  # fraction of the control period a solve may take (0: no deadline)
    seed: int = 0  # noise seed (re-seeded at every reset: each episode plans alike)
    cost: CostConfig = _field(default_factory=CostConfig)
    loop: LoopConfig = _field(default_factory=LoopConfig)

    def validate(self) -> None:
        if not 0 <= self.samples <= MAX_SAMPLES:
            raise ConfigError(
                f"samples: must be in 0..{MAX_SAMPLES} (0: the bundle's batch), got {self.samples}"
            )
        if not 0 <= self.horizon <= MAX_HORIZON:
            raise ConfigError(f"horizon: must be in 0..{MAX_HORIZON} (0: the bundle's), got {self.horizon}")
        if self.iterations < 1:
            raise ConfigError(f"iterations: must be >= 1, got {self.iterations}")
        if self.noise_std <= 0 or self.temperature <= 0:
            raise ConfigError("noise_std and temperature: must be > 0")
        if not 0 <= self.noise_beta <= 4:
            raise ConfigError(f"noise_beta: must be in [0, 4], got {self.noise_beta}")
        if self.elites < 1:
            raise ConfigError(f"elites: must be >= 1, got {self.elites}")
        if not 0 <= self.keep_elites <= 1 or not 0 <= self.momentum < 1:
            raise ConfigError("keep_elites: must be in [0, 1], momentum in [0, 1)")
        if not 0 <= self.deadline <= 1:
            raise ConfigError(f"deadline: a fraction of the control period in [0, 1], got {self.deadline}")
