"""Calibrate the dynamics monitor's alarm threshold on nominal held-out data.

The statistic is the one the monitor node computes (:mod:`rnn_control.ros.dynamics_monitor_node`):
per step the RMS over the predicted fields of the normalised one-step error
``z = (reading - mean) / max(std, std_floor)``, averaged over the last ``window`` predictions.
An alarm is raised when that mean rises above the threshold (and counted once until it falls
back). The first ``warmup`` predictions (default: one window) after a start do not count: the
recurrent state is still filling and, over DDS, the first readings and commands may pair up out
of order while the subscriptions settle. The threshold is chosen so that, on nominal data the
model never trained on, alarms come at most ``false_alarms_per_hour``:

- ``empirical``: the held-out data is long enough to see that many alarms; the threshold is the
  lowest one with at most the target count (the alarm count as a function of the threshold is
  computed exactly, as the monitor would count);
- ``extrapolated``: it is not (1 alarm per hour needs hours of data): the log of the alarm count
  falls about linearly with the threshold in its tail, so a line fitted to that tail (counts
  10 down to 1) is extended to the target count. The bundle says which.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rnn_control.errors import TrainingError
from rnn_control.models.dynamics import DynamicsModel
from rnn_control.train.dynamics.rollouts import EpisodeDataset

STATISTIC = "windowed mean of the RMS normalised one-step prediction error"


@torch.no_grad()
def step_errors(model: DynamicsModel, data: EpisodeDataset, std_floor: float = 1e-3) -> list[np.ndarray]:
    """Per episode, the RMS normalised one-step error of every prediction (state carried, as online)."""
    model.eval()
    out = []
    for i in range(data.num_episodes):
        obs, act = data.episode(i)
        o = torch.as_tensor(obs[:-1], dtype=torch.float32).unsqueeze(1)
        a = torch.as_tensor(act, dtype=torch.float32).unsqueeze(1)
        start = torch.zeros(len(act), 1, dtype=torch.bool)
        start[0] = True
        mean, log_std, _ = model(o, a, None, start)
        next_mean, next_std = model.to_raw(o, mean, log_std)
        z = (torch.as_tensor(obs[1:]).unsqueeze(1) - next_mean) / next_std.clamp_min(std_floor)
        out.append(z.pow(2).mean(-1).sqrt()[:, 0].numpy().astype(np.float64))
    return out


def windowed(errors: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` errors at every step once the window is full."""
    if len(errors) < window:
        return np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(errors)])
    return (c[window:] - c[:-window]) / window


def alarm_counts(stats: list[np.ndarray], thresholds: np.ndarray) -> np.ndarray:
    """Alarms (rises above the threshold; one at a window that starts above it) per threshold."""
    counts = np.zeros(len(thresholds), dtype=np.int64)
    for m in stats:
        if len(m) == 0:
            continue
        above = m[:, None] > thresholds[None, :]
        rises = above[1:] & ~above[:-1]
        counts += above[0].astype(np.int64) + rises.sum(0)
    return counts


def calibrate_threshold(
    stats: list[np.ndarray], hours: float, false_alarms_per_hour: float
) -> tuple[float, str, float]:
    """(threshold, method, alarms per hour it gives on ``stats``) for the target rate."""
    values = np.concatenate([m for m in stats if len(m)]) if any(len(m) for m in stats) else np.zeros(0)
    if len(values) == 0 or hours <= 0:
        raise TrainingError("monitor calibration: no held-out window of data to calibrate on")
    grid = np.unique(np.quantile(values, np.linspace(0.5, 1.0, 400)))
    counts = alarm_counts(stats, grid)
    target = false_alarms_per_hour * hours
    if target >= 1.0:
        # the lowest threshold above which no threshold gives more alarms than the target (a
        # threshold near the median can give few rises and yet be exceeded half the time)
        worst_above = np.maximum.accumulate(counts[::-1])[::-1]
        ok = np.flatnonzero(worst_above <= target)
        c = float(grid[ok[0]])
        return c, "empirical", float(alarm_counts(stats, np.array([c]))[0]) / hours
    tail = (counts >= 1) & (counts <= max(10, int(counts.max() * 0.05)))
    x, y = grid[tail], np.log(counts[tail])
    top = float(values.max())
    if len(x) >= 2 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        c = float((np.log(target) - intercept) / slope) if slope < 0 else 2 * top
    else:
        c = 2 * top
    return max(c, top * 1.0001), "extrapolated", 0.0


def calibrate_monitor(
    model: DynamicsModel,
    data: EpisodeDataset,
    period: float,
    window: int = 10,
    false_alarms_per_hour: float = 1.0,
    std_floor: float = 1e-3,
    error_factor: float = 2.0,
    warmup: int | None = None,
) -> dict[str, Any]:
    """The bundle's ``monitor`` entry: statistic, window, threshold for the target false-alarm
    rate on nominal ``data`` (never trained on), and how it was found."""
    errors = step_errors(model, data, std_floor)
    return calibration(errors, period, window, false_alarms_per_hour, std_floor, error_factor, warmup)


def calibration(
    errors: list[np.ndarray],
    period: float,
    window: int = 10,
    false_alarms_per_hour: float = 1.0,
    std_floor: float = 1e-3,
    error_factor: float = 2.0,
    warmup: int | None = None,
) -> dict[str, Any]:
    """The ``monitor`` entry from per-episode one-step errors (:func:`step_errors`, or a bundle's:
    ``rnn-control calibrate-monitor``)."""
    warmup = window if warmup is None else warmup
    stats = [windowed(e[warmup:], window) for e in errors]
    hours = sum(len(m) for m in stats) * period / 3600.0
    threshold, method, measured = calibrate_threshold(stats, hours, false_alarms_per_hour)
    values = np.concatenate(errors)
    return {
        "statistic": STATISTIC,
        "window": int(window),
        "warmup": int(warmup),
        "threshold": threshold,
        "error_factor": float(error_factor),
        "std_floor": float(std_floor),
        "false_alarms_per_hour": float(false_alarms_per_hour),
        "method": method,
        "calibration_hours": hours,
        "calibration_alarms_per_hour": measured,
        "nominal_error_mean": float(values.mean()),
        "nominal_error_p99": float(np.quantile(values, 0.99)),
    }


def bundle_step_errors(
    stepper: Any, episodes: list[tuple[np.ndarray, np.ndarray]], std_floor: float
) -> list[np.ndarray]:
    """:func:`step_errors` of an exported dynamics bundle (a :class:`rnn_control.runtime.Stepper`),
    stepped as the monitor node steps it: ``[reading, command]`` in, the next reading's mean and
    std out, the state carried through each episode ``(obs [T+1, o], act [T, a])``."""
    out = []
    for obs, act in episodes:
        stepper.reset()
        errors = np.empty(len(act))
        for t in range(len(act)):
            mean = np.asarray(stepper.step(np.concatenate([obs[t], act[t]]).astype(np.float32)), np.float64)
            std = stepper.last_std
            std = np.ones_like(mean) if std is None else np.asarray(std, np.float64)
            z = (obs[t + 1] - mean) / np.maximum(std, std_floor)
            errors[t] = float(np.sqrt(np.mean(z * z)))
        out.append(errors)
    return out
