"""MpcController: planning bundle + planner + cost + safety filter; what the MPC node steps.

``MpcController.step(obs, dt)`` is :meth:`Controller.step <rnn_control.runtime.Controller.step>`
for model-predictive control and never raises on bad data either:

- a wrong-length or non-finite observation, a non-finite filtered state, or an onnxruntime error:
  the safe command, the model and the planner reset (counted under the fault's name);
- no valid candidate at all (every prediction non-finite): the safe command (``no_valid``);
- a solve that overruns its deadline (``deadline`` fraction of the control period, or the
  ``deadline`` argument): the previous plan, shifted, is executed (``deadline_misses``);
  further iterations that would not fit are skipped (``truncated``);
- candidates with non-finite predictions are discarded (``invalid_candidates``).

The command is ``offset + scale * action`` through the bundle's :class:`SafetyFilter` (clip, slew,
NaN guard). The recurrent state is filtered on what was really sent: a node that changes the
command after ``step`` (the supervisor's fade-in) reports it with :meth:`executed`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.config import from_dict
from rnn_control.errors import ConfigError
from rnn_control.runtime.planners import LATE, NO_VALID, TRUNCATED, Cost, make_planner
from rnn_control.runtime.planning import PlanningModel
from rnn_control.runtime.safety import SafetyFilter
from rnn_control.scenario.mpc import MpcConfig

log = logging.getLogger("rnn_control.runtime")

FAULTS = (
    "bad_observation_length", "non_finite_observation", "non_finite_state", "runtime_error", "no_valid",
    "bad_dt",
)  # fmt: skip
MPC_COUNTERS = ("solves", "deadline_misses", "truncated", "invalid_candidates", "resets")


def mpc_config_for(model: PlanningModel, config: MpcConfig | dict | None = None) -> MpcConfig:
    """The MPC settings: ``config``, else the ``mpc:`` section of the scenario stored in the bundle;
    ``samples``/``horizon`` checked against the bundle (0: the bundle's)."""
    if config is None:
        config = model.metadata.scenario.get("mpc", {})
    cfg = from_dict(MpcConfig, config, where="mpc")
    plan = model.plan
    for name, want in (("samples", plan.batch), ("horizon", plan.horizon)):
        got = getattr(cfg, name)
        if got not in (0, want):
            raise ConfigError(
                f"mpc.{name}: {got} does not fit the planning bundle {model.path.name} (batch {plan.batch}, "
                f"horizon {plan.horizon}); re-export it with --planning {cfg.samples or plan.batch} "
                f"{cfg.horizon or plan.horizon} or set {name}: 0"
            )
    if cfg.planner == "cem" and cfg.elites > plan.batch:
        raise ConfigError(f"mpc.elites: {cfg.elites} > the bundle's batch of {plan.batch} candidates")
    return cfg


class MpcController:
    """Observation (raw units, model order: the bundle's sensor fields) -> safe command."""

    def __init__(
        self,
        model: PlanningModel,
        config: MpcConfig | dict | None = None,
        max_rate: np.ndarray | float | None = None,
        stats: int = 4096,
    ) -> None:
        self.model = model
        self.metadata = model.metadata
        self.config = mpc_config_for(model, config)
        self.spec = model.spec
        self.safety = SafetyFilter(self.spec, max_rate)
        self.control_period = float(model.metadata.control_period)
        self.cost = Cost(
            self.config.cost, model.observation_names, self.spec.action_names, self.control_period
        )
        self.planner = make_planner(model, self.cost, self.config, model.action_low, model.action_high)
        self._faults: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self._mpc: dict[str, int] = dict.fromkeys(MPC_COUNTERS, 0)
        self.solve_seconds: deque[float] = deque(maxlen=stats)
        self.last_cost = math.nan
        self.last_fault: str | None = None
        self.last_result = None
        self._pending: np.ndarray | None = None  # model-unit action of the last command, to commit
        self._prev_action = self.planner.center.astype(np.float64)
        self._safe_action = self._to_action(self.spec.safe)

    @classmethod
    def load(
        cls,
        path: str | Path,
        config: MpcConfig | dict | None = None,
        max_rate: np.ndarray | float | None = None,
        **model_kwargs: Any,
    ) -> MpcController:
        """Load a planning bundle; ``model_kwargs`` go to :meth:`PlanningModel.load`."""
        return cls(PlanningModel.load(path, **model_kwargs), config, max_rate)

    # ------------------------------------------------------------------ helpers
    def _to_action(self, command: np.ndarray) -> np.ndarray:
        return (np.asarray(command, dtype=np.float64) - self.spec.offset) / self.spec.scale

    def executed(self, command: np.ndarray) -> None:
        """The command actually sent after :meth:`step` (e.g. faded in): the filter sees it."""
        if self._pending is not None:
            self._pending = self._to_action(command)
            self._prev_action = self._pending

    def _fault(self, reason: str) -> np.ndarray:
        self._faults[reason] += 1
        self.last_fault = reason
        self.reset()
        return self.safety.fault()

    # ------------------------------------------------------------------ one tick
    def step(
        self, obs: np.ndarray | Any, dt: float | None = None, deadline: float | None = None
    ) -> np.ndarray:
        """One control tick -> command ``[act_dim]`` (a new float64 array). ``deadline``: the
        ``time.perf_counter()`` by which the plan must be ready (default: ``config.deadline``
        of the control period from now; none if that is 0)."""
        start = time.perf_counter()
        if dt is not None and not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            self._faults["bad_dt"] += 1
            dt = None
        if deadline is None and self.config.deadline > 0:
            deadline = start + self.config.deadline * self.control_period
        try:
            values = np.asarray(obs, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            return self._fault("bad_observation_length")
        if values.size != self.model.obs_dim:
            return self._fault("bad_observation_length")
        if not np.isfinite(values).all() or np.abs(values).max() > 1e30:
            return self._fault("non_finite_observation")
        model = self.model
        if self._pending is not None:
            model.commit(self._pending)
            self._pending = None
        if not model.state_is_finite():
            return self._fault("non_finite_state")
        model.begin(values)
        try:
            result = self.planner.solve(values, self._prev_action, deadline)
        except Exception as exc:  # onnxruntime failure on the live path: fail safe, never crash
            log.error("%s: planning failed: %s", model.path.name, exc)
            return self._fault("runtime_error")
        self.last_result = result
        self._mpc["solves"] += 1
        self._mpc["invalid_candidates"] += result.invalid
        self.solve_seconds.append(time.perf_counter() - start)
        self.last_cost = result.cost
        if result.status == NO_VALID:
            self._faults[NO_VALID] += 1
            self.last_fault = NO_VALID
            command = self.safety.fault()
        else:
            if result.status == LATE:
                self._mpc["deadline_misses"] += 1
            elif result.status == TRUNCATED:
                self._mpc["truncated"] += 1
            staged = self.safety.staging
            np.multiply(result.action, self.spec.scale, out=staged)
            staged += self.spec.offset
            command = self.safety.filter_staged(self.control_period if dt is None else dt)
        self._pending = self._to_action(command)
        self._prev_action = self._pending
        return command

    def reset(self) -> None:
        """New episode: zero state, forget the plan and the previous command, re-seed the noise."""
        self.model.reset()
        self.planner.reset()
        self.safety.reset()
        self._pending = None
        self._prev_action = self.planner.center.astype(np.float64)
        self._mpc["resets"] += 1

    def safe_command(self) -> np.ndarray:
        """The bundle's safe command (a new array)."""
        return self.safety.safe_command()

    @property
    def counters(self) -> dict[str, int]:
        """Safety filter counters, faults and planner counters, one flat dict."""
        return {**self.safety.counters, **self._faults, **self._mpc}

    def solve_percentiles(self, qs: tuple[float, ...] = (50.0, 99.0)) -> list[float]:
        """Solve time percentiles in seconds over the recent ticks (NaN before the first)."""
        if not self.solve_seconds:
            return [math.nan for _ in qs]
        return [float(v) for v in np.percentile(np.fromiter(self.solve_seconds, float), qs)]
