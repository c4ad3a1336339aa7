"""The dynamics monitor's alarm statistic: a windowed mean of normalised prediction errors.

Levels 0 (OK), 1 (WARN: the mean of the last ``window`` errors above ``threshold``) and 2 (ERROR:
above ``threshold * factor``), the values of diagnostic_msgs' levels. The first ``warmup``
errors after a start do not count, and the window must be full before it can alarm: the
statistic :mod:`rnn_control.train.dynamics.calibrate` calibrates on held-out episodes, restarted
(:meth:`ErrorAlarm.restart`) at every episode start. Pure Python + numpy.
"""

from __future__ import annotations

from collections import deque

import numpy as np

OK, WARN, ERROR = 0, 1, 2


class ErrorAlarm:
    """Windowed mean of the errors after a warm-up; its level and a message."""

    def __init__(self, threshold: float, factor: float, window: int, warmup: int = 0) -> None:
        self.threshold, self.factor, self.warmup = float(threshold), float(factor), int(warmup)
        self.errors: deque[float] = deque(maxlen=max(1, int(window)))
        self.scored = 0  # errors since the last (re)start, warm-up included

    @property
    def window(self) -> int:
        """Errors averaged."""
        return int(self.errors.maxlen or 0)

    def add(self, error: float) -> None:
        """Count one scored prediction's error."""
        self.scored += 1
        if self.scored > self.warmup:
            self.errors.append(float(error))

    def restart(self, clear: bool = True) -> None:
        """Warm up again (a zero state); ``clear``: a window of what follows only (a new episode)."""
        self.scored = 0
        if clear:
            self.errors.clear()

    def evaluate(self) -> tuple[int, str, float]:
        """(level, message, windowed mean error) of the errors so far."""
        recent = float(np.mean(self.errors)) if self.errors else 0.0
        full = len(self.errors) == self.window
        for level, limit in ((ERROR, self.threshold * self.factor), (WARN, self.threshold)):
            if full and recent > limit:
                return level, f"persistent prediction error {recent:.2f} (> {limit:g})", recent
        return OK, f"prediction error {recent:.2f}", recent
