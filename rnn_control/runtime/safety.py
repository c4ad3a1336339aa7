"""The safety filter applied to every command before it leaves a node.

In order: non-finite entries are replaced by the safe value, the command is clipped to its
limits, and (where ``max_rate`` is set) each entry moves at most ``max_rate * dt`` away from the
previous command. Every intervention is counted. Work buffers are preallocated: a call costs a
handful of numpy operations whatever happens.
"""

from __future__ import annotations

import math

import numpy as np

from rnn_control.runtime.finite import sum_of_squares
from rnn_control.runtime.io_spec import IOSpec

COUNTERS = ("steps", "non_finite", "clipped", "slew_limited", "faults")


class SafetyFilter:
    """Clip, slew-limit and sanitise commands (float64, command units)."""

    def __init__(self, spec: IOSpec, max_rate: np.ndarray | float | None = None) -> None:
        self.spec = spec
        self.low = spec.low.copy()
        self.high = spec.high.copy()
        self.safe = spec.safe.copy()
        if max_rate is None:
            rate = spec.max_rate
        else:
            rate = np.broadcast_to(np.asarray(max_rate, dtype=np.float64), spec.low.shape)
        self.max_rate = np.where(np.isfinite(rate) & (rate > 0), rate, np.inf).astype(np.float64)
        self._slew = bool(np.isfinite(self.max_rate).any())
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        n = self.low.shape[0]
        self._cmd = np.zeros(n)
        self._out = np.zeros(n)
        self._last = np.zeros(n)
        self._has_last = False
        self._step = np.zeros(n)
        self._bound = np.zeros(n)
        self._differs = np.zeros(n, dtype=bool)
        self._step_dt = float("nan")
        self._cmd_view, self._out_view = memoryview(self._cmd), memoryview(self._out)

    def __call__(self, command: np.ndarray, dt: float | None) -> np.ndarray:
        """The filtered command (a new float64 array). ``dt``: seconds since the previous command."""
        try:
            self._cmd[:] = np.reshape(command, -1)
        except (TypeError, ValueError):
            self.counters["steps"] += 1
            return self.fault()
        return self.filter_staged(dt)

    @property
    def staging(self) -> np.ndarray:
        """The filter's input buffer: write a command here and call :meth:`filter_staged` to skip
        the copy (what :class:`~rnn_control.runtime.Controller` does)."""
        return self._cmd

    def filter_staged(self, dt: float | None) -> np.ndarray:
        """Filter the command in :attr:`staging`; see :meth:`__call__`."""
        self.counters["steps"] += 1
        cmd, out = self._cmd, self._out
        bad = None
        if not math.isfinite(sum_of_squares(cmd)):  # one reduction (runtime.finite)
            bad = ~np.isfinite(cmd)
            if bad.any():
                self.counters["non_finite"] += 1
                cmd[bad] = self.safe[bad]
            else:
                bad = None
        np.maximum(cmd, self.low, out=out)
        np.minimum(out, self.high, out=out)
        if self._out_view != self._cmd_view:  # element-wise compare of the two float64 buffers
            self.counters["clipped"] += 1
        if self._slew and self._has_last and dt is not None and dt > 0:
            self._slew_limit(out, dt, bad)
        self._last[:] = out
        self._has_last = True
        return out.copy()

    def _slew_limit(self, out: np.ndarray, dt: float, bad: np.ndarray | None) -> None:
        if dt != self._step_dt:
            np.multiply(self.max_rate, dt, out=self._step)
            self._step_dt = dt
        cmd = self._cmd
        cmd[:] = out
        np.subtract(self._last, self._step, out=self._bound)
        np.maximum(out, self._bound, out=out)
        np.add(self._last, self._step, out=self._bound)
        np.minimum(out, self._bound, out=out)
        if bad is not None:  # a fault goes to the safe value at once
            out[bad] = cmd[bad]
        if self._out_view != self._cmd_view:
            self.counters["slew_limited"] += 1

    def fault(self) -> np.ndarray:
        """The safe command, at once (no slew limit); counted under ``faults``."""
        self.counters["faults"] += 1
        self._last[:] = self.safe
        self._has_last = True
        return self.safe.copy()

    def safe_command(self) -> np.ndarray:
        return self.safe.copy()

    @property
    def last_command(self) -> np.ndarray | None:
        return self._last.copy() if self._has_last else None

    def reset(self, command: np.ndarray | None = None) -> None:
        """Forget the previous command (or set it, e.g. to the robot's current command)."""
        self._has_last = command is not None
        if command is not None:
            self._last[:] = np.reshape(command, -1)
