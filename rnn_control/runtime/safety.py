"""The safety filter applied to every command before it leaves a node.

In order: non-finite entries are replaced by the safe value, the command is clipped to its
limits, and (where ``max_rate`` is set) each entry moves at most ``max_rate * dt`` away from the
previous command. Every intervention is counted.
"""

from __future__ import annotations

import numpy as np

from rnn_control.runtime.io_spec import IOSpec

COUNTERS = ("steps", "non_finite", "clipped", "slew_limited", "faults")


class SafetyFilter:
    """Clip, slew-limit and sanitise commands (float64, command units)."""

    def __init__(self, spec: IOSpec, max_rate: np.ndarray | float | None = None) -> None:
        self.spec = spec
        self.low = spec.low.copy()
        self.high = spec.high.copy()
        self.safe = spec.safe.copy()
        rate = (
            spec.max_rate
            if max_rate is None
            else np.broadcast_to(np.asarray(max_rate, float), spec.low.shape)
        )
        self.max_rate = np.where(np.isfinite(rate) & (rate > 0), rate, np.inf).astype(np.float64)
        self._slew = bool(np.isfinite(self.max_rate).any())
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._last: np.ndarray | None = None

    def __call__(self, command: np.ndarray, dt: float) -> np.ndarray:
        """The filtered command (a new float64 array). ``dt``: seconds since the previous command."""
        cmd = np.array(command, dtype=np.float64).reshape(-1)
        self.counters["steps"] += 1
        if cmd.shape != self.low.shape:
            return self.fault()
        bad = ~np.isfinite(cmd)
        if bad.any():
            self.counters["non_finite"] += 1
            cmd[bad] = self.safe[bad]
        clipped = np.clip(cmd, self.low, self.high)
        if not np.array_equal(clipped, cmd):
            self.counters["clipped"] += 1
        cmd = clipped
        if self._slew and self._last is not None and dt is not None and np.isfinite(dt) and dt > 0:
            step = self.max_rate * dt
            limited = np.clip(cmd, self._last - step, self._last + step)
            limited[bad] = cmd[bad]  # a fault goes to the safe value at once
            if not np.array_equal(limited, cmd):
                self.counters["slew_limited"] += 1
            cmd = limited
        self._last = cmd.copy()
        return cmd

    def fault(self) -> np.ndarray:
        """The safe command, at once (no slew limit); counted under ``faults``."""
        self.counters["faults"] += 1
        self._last = self.safe.copy()
        return self.safe.copy()

    def safe_command(self) -> np.ndarray:
        return self.safe.copy()

    @property
    def last_command(self) -> np.ndarray | None:
        return None if self._last is None else self._last.copy()

    def reset(self, command: np.ndarray | None = None) -> None:
        """Forget the previous command (or set it, e.g. to the robot's current command)."""
        self._last = None if command is None else np.array(command, dtype=np.float64).reshape(-1)
