"""Controller: bundle + IO spec + safety filter. What nodes and the demo step once per tick.

``Controller.step`` never raises on bad data: a wrong-length or non-finite observation, a
non-finite output or state, or an onnxruntime error yields the safe command and a state reset,
and is counted in :attr:`Controller.counters`.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.runtime.finite import sum_of_squares
from rnn_control.runtime.io_spec import IOSpec
from rnn_control.runtime.safety import SafetyFilter
from rnn_control.runtime.stepper import Stepper

log = logging.getLogger("rnn_control.runtime")

_MAX_SQUARES = 1e76
"""Largest sum of squares of an accepted observation: every |value| < 1e38 < float32's maximum."""

FAULTS = (
    "bad_observation_length",
    "non_finite_observation",
    "non_finite_output",
    "non_finite_state",
    "runtime_error",
    "bad_dt",
)


class Controller:
    """Observation (raw units, model order) -> safe command (float64, command units)."""

    def __init__(
        self, stepper: Stepper, spec: IOSpec | None = None, safety: SafetyFilter | None = None
    ) -> None:
        self.stepper = stepper
        self.metadata = stepper.metadata
        self.spec = spec or IOSpec.from_metadata(stepper.metadata)
        self.safety = safety or SafetyFilter(self.spec)
        self.control_period = float(stepper.metadata.control_period)
        self._faults: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self._faults["resets"] = 0
        self._input = stepper.input
        self._affine = bool((self.spec.scale != 1.0).any() or (self.spec.offset != 0.0).any())
        self._command = np.zeros(self.spec.act_dim, dtype=np.float64)
        self.last_fault: str | None = None

    @classmethod
    def load(
        cls, path: str | Path, max_rate: np.ndarray | float | None = None, **stepper_kwargs: Any
    ) -> Controller:
        """Load a bundle; ``stepper_kwargs`` go to :meth:`Stepper.load` (providers, sidecar, ...)."""
        stepper = Stepper.load(path, **stepper_kwargs)
        spec = IOSpec.from_metadata(stepper.metadata)
        return cls(stepper, spec, SafetyFilter(spec, max_rate))

    def step(self, obs: np.ndarray | Any, dt: float | None = None) -> np.ndarray:
        """One control tick -> command ``[act_dim]`` (a new float64 array)."""
        if dt is not None and not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            self._faults["bad_dt"] += 1
            dt = None
        x = self._input  # the stepper's bound input: one copy from the caller's array into the graph
        try:
            values = np.asarray(obs)
            if values.size != x.size:
                return self._fault("bad_observation_length")
            values = values.reshape(-1)
            # One reduction finds NaN/inf anywhere, and bounds every |value| below 1e38, so the
            # copy into the float32 input cannot overflow.
            if not sum_of_squares(values) <= _MAX_SQUARES:
                return self._fault("non_finite_observation")
            x[:] = values
        except (TypeError, ValueError):
            return self._fault("bad_observation_length")
        try:
            raw = self.stepper.run(dt)
        except Exception as exc:  # onnxruntime failure on the live path: fail safe, never crash
            log.error("%s: step failed: %s", self.stepper.path.name, exc)
            return self._fault("runtime_error")
        if not self.stepper.output_and_state_finite():
            output_ok = math.isfinite(sum_of_squares(raw))
            return self._fault("non_finite_state" if output_ok else "non_finite_output")
        command = self.safety.staging
        if self._affine:
            np.multiply(raw, self.spec.scale, out=command)
            command += self.spec.offset
        else:
            command[:] = raw
        return self.safety.filter_staged(self.control_period if dt is None else dt)

    def _fault(self, reason: str) -> np.ndarray:
        self._faults[reason] += 1
        self.last_fault = reason
        self.stepper.reset()
        self._faults["resets"] += 1
        return self.safety.fault()

    def reset(self) -> None:
        """New episode: zero the recurrent state and forget the previous command."""
        self.stepper.reset()
        self.safety.reset()

    def safe_command(self) -> np.ndarray:
        return self.safety.safe_command()

    @property
    def counters(self) -> dict[str, int]:
        """Safety filter counters and step-path faults, one flat dict."""
        return {**self.safety.counters, **self._faults}
