"""Streams at their own rates -> one time axis at the control period -> episodes.

Per topic the reader hands over a :class:`Series`: log times, time-base stamps (header stamps or
log times) and the extracted values. Then:

1. **Segments.** A time-base stamp that falls back by more than the gap tolerance (``max_gap``
   periods; a clock reset, a simulator restart) and every message on the episode topic cut the
   recording at that log time, on every topic. Nothing is aligned across a cut.
2. **Clean-up inside a segment.** Messages are sorted by stamp (each one that arrived earlier than
   a stamp already seen counts as *out of order*); equal stamps keep the first message (the
   others count as *duplicates*).
3. **Time axis.** ``grid``: every ``period`` from the first reference-topic stamp at which every
   topic has started (in phase with the reference topic); ``reference``: the reference topic's
   own stamps.
4. **Sampling.** Sensors: ``linear`` interpolation between the two neighbouring messages (or
   ``zoh``: the latest at or before, ``nearest``). Commands: ``zoh`` by default, the command in
   force just before the step's end (``command_at: end``: what the robot applied during the
   step) or at its start. A sample is invalid where its messages are more than ``max_gap``
   periods apart (interpolation) or older than that (hold).
5. **Episodes.** Maximal runs of valid transitions (observation k, command k, observation k+1);
   runs shorter than ``min_episode_steps`` are dropped (counted).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Series:
    """One topic's extracted values: ``log`` and ``stamp`` (the time base) in ns, ``values [n, k]``."""

    topic: str
    log: np.ndarray
    stamp: np.ndarray
    values: np.ndarray


@dataclass
class TopicStats:
    """What the clean-up did to one topic (the counts go into the ingest report)."""

    messages: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    time_reversals: list[tuple[float, float]] = field(default_factory=list)  # (log time s, jump s)
    gaps: int = 0


@dataclass
class Episode:
    """``obs [T+1, o]``, ``act [T, a]`` and the time axis ``t [T+1]`` (seconds, time base)."""

    obs: np.ndarray
    act: np.ndarray
    t: np.ndarray

    @property
    def steps(self) -> int:
        return len(self.act)


def reversals(series: Series, tolerance_ns: int) -> list[int]:
    """Indices where the stamp falls back by more than ``tolerance_ns`` below the latest one seen
    since the previous such index (each starts a new run of the time base)."""
    out: list[int] = []
    start, stamp = 0, series.stamp
    while len(stamp) - start > 1:
        running = np.maximum.accumulate(stamp[start:])
        back = np.flatnonzero(stamp[start + 1 :] < running[:-1] - tolerance_ns)
        if len(back) == 0:
            break
        start += int(back[0]) + 1
        out.append(start)
    return out


def segment_bounds(series: dict[str, Series], cuts: list[int]) -> list[tuple[int, int]]:
    """Log-time ranges ``[lo, hi)`` between the cuts."""
    edges = [-(2**62), *sorted(set(cuts)), 2**62]
    return list(itertools.pairwise(edges))


def clean(times: np.ndarray, values: np.ndarray, stats: TopicStats) -> tuple[np.ndarray, np.ndarray]:
    """Sort by stamp (counting out-of-order arrivals) and drop repeated stamps (counted)."""
    if len(times) > 1:
        if (np.diff(times) > 0).all():  # already in order, no repeats: nothing to copy
            return times, values
        running = np.maximum.accumulate(times)
        stats.out_of_order += int((times[1:] < running[:-1]).sum())
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
        keep = np.concatenate([[True], np.diff(times) > 0])
        stats.duplicates += int((~keep).sum())
        times, values = times[keep], values[keep]
    return times, values


def sample(
    times: np.ndarray, values: np.ndarray, at: np.ndarray, method: str, gap_ns: int, strict: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Values ``[len(at), k]`` of a stream at times ``at`` and whether each is valid.

    ``zoh``: the latest message at or before (``strict``: before) each time, valid if not older
    than ``gap_ns``; ``linear``: interpolated between the neighbours, valid if they are at most
    ``gap_ns`` apart (an exact hit is always valid); ``nearest``: valid within ``gap_ns / 2``.
    """
    n, k = len(times), values.shape[1]
    out = np.zeros((len(at), k))
    if n == 0 or len(at) == 0:
        return out, np.zeros(len(at), dtype=bool)
    if method == "zoh":
        idx = np.searchsorted(times, at, side="left" if strict else "right") - 1
        ok = idx >= 0
        safe = np.clip(idx, 0, n - 1)
        ok &= (at - times[safe]) <= gap_ns
        return values[safe], ok
    if method == "nearest":
        right = np.clip(np.searchsorted(times, at), 0, n - 1)
        left = np.clip(right - 1, 0, n - 1)
        pick = np.where(np.abs(at - times[left]) <= np.abs(times[right] - at), left, right)
        return values[pick], np.abs(at - times[pick]) <= gap_ns // 2
    idx = np.searchsorted(times, at, side="right") - 1
    exact = (idx >= 0) & (times[np.clip(idx, 0, n - 1)] == at)
    inside = (idx >= 0) & (idx < n - 1)
    lo = np.clip(idx, 0, max(n - 2, 0))
    hi = np.minimum(lo + 1, n - 1)
    span = (times[hi] - times[lo]).astype(np.float64)
    w = np.where(span > 0, (at - times[lo]) / np.where(span > 0, span, 1.0), 0.0)
    out = values[lo] + w[:, None] * (values[hi] - values[lo])
    ok = inside & (span <= gap_ns)
    out = np.where(exact[:, None], values[np.clip(idx, 0, n - 1)], out)
    return out, ok | exact


def time_axis(
    streams: dict[str, tuple[np.ndarray, np.ndarray]], reference: str, period_ns: int, resample: str
) -> np.ndarray:
    """The steps' times (ns): the grid in phase with ``reference``, or its own stamps, over the
    span every sensor stream covers (commands are checked where they are sampled)."""
    lo = max(t[0] for t, _ in streams.values() if len(t))
    hi = min(t[-1] for t, _ in streams.values() if len(t))
    ref = streams[reference][0]
    ref = ref[(ref >= lo) & (ref <= hi)]
    if len(ref) == 0 or hi <= lo:
        return np.zeros(0, dtype=np.int64)
    if resample == "reference":
        return ref
    return ref[0] + period_ns * np.arange((hi - ref[0]) // period_ns + 1, dtype=np.int64)


def runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """``[a, b)`` index ranges where ``valid`` is True."""
    if len(valid) == 0:
        return []
    padded = np.concatenate([[False], valid, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))
