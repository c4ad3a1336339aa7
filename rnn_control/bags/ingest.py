"""Bags -> aligned episodes under the scenario's ``bag:`` section, with a report of what was done.

:func:`load_bags` reads every recording (streaming, :mod:`.source`), extracts the mapped fields
(:mod:`.extract`), aligns them to the control period and cuts episodes (:mod:`.align`), orders
the episodes of all recordings in time and splits off the held-out part: the last
``heldout_fraction`` of the steps in time, so nothing trained on lies after anything held out
(an episode that straddles the cut is split there).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.bags.align import Episode, Series, TopicStats, clean, reversals, runs, sample, time_axis
from rnn_control.bags.extract import Slot, TopicExtractor
from rnn_control.bags.source import Recording
from rnn_control.contract.fields import parse_source, parse_target
from rnn_control.errors import BagError
from rnn_control.scenario.bag import BagConfig, BagField


@dataclass
class BagReport:
    """What reading the bags found and did."""

    bags: list[str] = field(default_factory=list)
    topics: dict[str, TopicStats] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # topic -> messages lacking a field / undecodable
    damage: list[str] = field(default_factory=list)
    period: float = 0.0
    period_inferred: bool = False
    segments: int = 0
    episodes: int = 0
    steps: int = 0
    short_episodes: int = 0
    short_steps: int = 0
    heldout_from: float | None = None  # time-base seconds where the held-out part starts

    def lines(self) -> list[str]:
        """The report as text lines (the CLI prints them)."""
        out = [f"bags: {', '.join(self.bags)}"]
        src = "inferred from the reference topic" if self.period_inferred else "from bag.period"
        out.append(f"control period {self.period:.4g} s ({src}); {self.segments} segment(s)")
        for topic, s in self.topics.items():
            extra = [f"{s.messages} messages"]
            for label, n in (
                ("skipped", self.skipped.get(topic, 0)),
                ("out of order", s.out_of_order),
                ("duplicate stamps", s.duplicates),
                ("gaps", s.gaps),
            ):
                if n:
                    extra.append(f"{n} {label}")
            if s.time_reversals:
                t, jump = s.time_reversals[0]
                extra.append(
                    f"time went back {len(s.time_reversals)}x (first: {jump:.3g} s at log {t:.3f} s)"
                )
            out.append(f"  {topic}: " + ", ".join(extra))
        out.append(
            f"{self.episodes} episodes, {self.steps} steps"
            + (
                f" ({self.short_episodes} shorter than min_episode_steps dropped, {self.short_steps} steps)"
                if self.short_episodes
                else ""
            )
        )
        out += [f"DAMAGE: {d}" for d in self.damage]
        return out


@dataclass
class BagData:
    """Aligned episodes of one or more bags, in time order, split into train and held-out."""

    train: list[Episode]
    heldout: list[Episode]
    observation: list[dict[str, Any]]  # ObservationField mappings (name, source, unit)
    action: list[dict[str, Any]]  # ActionField mappings (name, target, low, high, safe, unit)
    period: float
    report: BagReport

    def spaces(self) -> dict[str, Any]:
        """The checkpoint's ``spaces`` entry: unbounded observations, the command limits, the layout."""
        o = len(self.observation)
        return {
            "observation": {"shape": [o], "low": [-math.inf] * o, "high": [math.inf] * o},
            "action": {
                "type": "box",
                "shape": [len(self.action)],
                "low": [a["low"] for a in self.action],
                "high": [a["high"] for a in self.action],
            },
            "fields": {"observation": self.observation, "action": self.action},
        }


def default_name(f: BagField, target: bool) -> str:
    """``joint_state/position/hinge`` -> ``hinge_position``; ``vector/3`` -> ``vector_3``; ..."""
    if f.name:
        return f.name
    p = parse_target(f.field) if target else parse_source(f.field)
    if p.group == "joint_state":
        return f"{p.path[1]}_{p.path[0]}"
    if p.group == "joint":
        return p.path[0]
    return "_".join((p.group, *p.path)).replace("/", "_")


def load_bags(paths: Sequence[str | Path], cfg: BagConfig) -> BagData:
    """Read ``paths`` (rosbag2 folders or ``.mcap``/``.db3`` files) as ``cfg`` maps them."""
    if not cfg.enabled:
        raise BagError("the scenario has no bag: section mapping topics to observations and commands")
    if not paths:
        raise BagError("no bag given (bag.paths in the scenario, or --bag PATH)")
    report = BagReport(bags=[str(p) for p in paths])
    per_bag = [_read(Path(p), cfg, report) for p in paths]
    period = cfg.period or _infer_period(per_bag, cfg)
    report.period, report.period_inferred = period, cfg.period is None
    episodes: list[Episode] = []
    for series, markers in per_bag:
        episodes += _episodes(series, markers, cfg, period, report)
    if not episodes:
        spans = {k[0]: (s.stamp.min() / 1e9, s.stamp.max() / 1e9) for sb, _ in per_bag for k, s in sb.items()}
        raise BagError(
            f"no episode of at least {cfg.min_episode_steps} steps in {', '.join(map(str, paths))}: "
            + "; ".join(report.lines()[1:])
            + "; time-base spans: "
            + ", ".join(f"{t} {a:.3f}..{b:.3f} s" for t, (a, b) in spans.items())
            + " (header stamps of one clock and log times of headerless topics must overlap; "
            "otherwise use bag.time_base: log_time)"
        )
    episodes.sort(key=lambda e: e.t[0])
    report.episodes, report.steps = len(episodes), sum(e.steps for e in episodes)
    train, heldout = split_in_time(episodes, cfg.heldout_fraction, cfg.min_episode_steps)
    report.heldout_from = float(heldout[0].t[0]) if heldout else None
    observation = [
        {"name": default_name(f, False), "source": f.field, "unit": f.unit} for f in cfg.observation
    ]
    action = []
    for i, f in enumerate(cfg.action):
        seen = np.concatenate([e.act[:, i] for e in episodes])
        low = float(f.low) if f.low is not None else float(seen.min())
        high = float(f.high) if f.high is not None else float(seen.max())
        action.append(
            {
                "name": default_name(f, True),
                "target": f.field,
                "low": low,
                "high": high,
                "safe": float(min(max(0.0, low), high)),
                "unit": f.unit,
            }
        )
    return BagData(train, heldout, observation, action, period, report)


# ---------------------------------------------------------------------- reading one bag
def _slots(cfg: BagConfig) -> dict[tuple[str, str], list[tuple[int, Slot]]]:
    """(topic, 'obs' | 'act') -> [(column, slot)]."""
    out: dict[tuple[str, str], list[tuple[int, Slot]]] = {}
    for i, f in enumerate(cfg.observation):
        if parse_source(f.field).group != "last_action":
            out.setdefault((f.topic, "obs"), []).append((i, Slot(f.field)))
    for i, f in enumerate(cfg.action):
        joints = tuple(f.joints) if f.joints else None
        out.setdefault((f.topic, "act"), []).append((i, Slot(f.field, True, f.command_field, joints)))
    return out


def _read(path: Path, cfg: BagConfig, report: BagReport) -> tuple[dict[tuple[str, str], Series], np.ndarray]:
    slots = _slots(cfg)
    with Recording(path, cfg.typestore) as rec:
        topics = rec.topics
        needed = sorted({t for t, _ in slots} | ({cfg.episode_topic} if cfg.episode_topic else set()))
        missing = [t for t in needed if t not in topics]
        if missing:
            raise BagError(
                f"{path}: topic {', '.join(missing)} not in the bag; it has: {rec.describe_topics()}"
            )
        extractors = {
            key: TopicExtractor(key[0], topics[key[0]], [s for _, s in v]) for key, v in slots.items()
        }
        by_topic: dict[str, list[tuple[str, str]]] = {}
        for key in extractors:
            by_topic.setdefault(key[0], []).append(key)
        counts = rec.counts
        bufs = {key: _Buffer(counts.get(key[0], 0), len(ex.slots)) for key, ex in extractors.items()}
        header = cfg.time_base == "header"
        markers: list[int] = []
        undecodable: dict[str, int] = {}
        for topic, log, msg in rec.messages(
            set(by_topic) | ({cfg.episode_topic} if cfg.episode_topic else set())
        ):
            if topic == cfg.episode_topic:
                markers.append(log)
            if msg is None:
                undecodable[topic] = undecodable.get(topic, 0) + 1
                continue
            for key in by_topic.get(topic, ()):
                ex = extractors[key]
                values = ex.read(msg)
                if values is not None:
                    bufs[key].add(log, ex.stamp(msg) if header and ex.stamped else log, values)
        report.damage += rec.damage
    for key, ex in extractors.items():
        if undecodable.get(key[0]) and undecodable[key[0]] == counts.get(key[0]):
            raise BagError(f"{path}: no message on {key[0]} decodes as {ex.msgtype}")
        ex.check()
        skipped = undecodable.get(key[0], 0) + (ex.read_count - bufs[key].n)
        report.skipped[key[0]] = report.skipped.get(key[0], 0) + skipped
        if bufs[key].n == 0:
            what = "the bag is empty" if not any(counts.values()) else f"{key[0]} has no messages"
            raise BagError(f"{path}: {what}; it has: {rec_topics_text(topics, counts)}")
    series = {key: bufs[key].series(key[0]) for key in extractors}
    return series, np.asarray(markers, dtype=np.int64)


def rec_topics_text(topics: dict[str, str], counts: dict[str, int]) -> str:
    """``/topic (type, N messages)`` for every topic."""
    return (
        ", ".join(f"{t} ({m}, {counts.get(t, 0)} messages)" for t, m in sorted(topics.items())) or "no topics"
    )


class _Buffer:
    """Growing columns of one extractor's output (sized from the bag's index)."""

    def __init__(self, capacity: int, width: int) -> None:
        self.n = 0
        cap = max(capacity, 16)
        self.log = np.zeros(cap, dtype=np.int64)
        self.stamp = np.zeros(cap, dtype=np.int64)
        self.values = np.zeros((cap, width))

    def add(self, log: int, stamp: int, values: np.ndarray) -> None:
        if self.n == len(self.log):
            self.log, self.stamp = np.resize(self.log, 2 * self.n), np.resize(self.stamp, 2 * self.n)
            self.values = np.resize(self.values, (2 * self.n, self.values.shape[1]))
        self.log[self.n], self.stamp[self.n], self.values[self.n] = log, stamp, values
        self.n += 1

    def series(self, topic: str) -> Series:
        log, stamp, values = self.log[: self.n], self.stamp[: self.n], self.values[: self.n]
        if self.n > 1 and (np.diff(log) < 0).any():  # storage files / a damaged file out of log order
            order = np.argsort(log, kind="stable")
            log, stamp, values = log[order], stamp[order], values[order]
        return Series(topic, log, stamp, values)


def _reference(cfg: BagConfig) -> str:
    return cfg.reference_topic or next(f.topic for f in cfg.observation if f.topic)


def _infer_period(per_bag: list[tuple[dict[tuple[str, str], Series], np.ndarray]], cfg: BagConfig) -> float:
    """The median interval of the reference topic's stamps (seconds)."""
    ref = _reference(cfg)
    diffs = [np.diff(np.unique(s[(ref, "obs")].stamp)) for s, _ in per_bag]
    diffs = np.concatenate([d for d in diffs if len(d)]) if any(len(d) for d in diffs) else np.zeros(0)
    if len(diffs) == 0 or np.median(diffs) <= 0:
        raise BagError(f"cannot infer the control period from {ref} (fewer than two stamps); set bag.period")
    return float(np.median(diffs)) / 1e9


# ---------------------------------------------------------------------- aligning one bag
def _episodes(
    series: dict[tuple[str, str], Series],
    markers: np.ndarray,
    cfg: BagConfig,
    period: float,
    report: BagReport,
) -> list[Episode]:
    period_ns = round(period * 1e9)
    gap_ns = round(cfg.max_gap * period_ns)
    # one topic read for both sensors and commands is counted once (its first key)
    first = {}
    for key in series:
        first.setdefault(key[0], key)
    stats = {key: report.topics.setdefault(key[0], TopicStats()) if first[key[0]] == key else TopicStats()
             for key in series}  # fmt: skip
    cuts = markers.tolist()
    for key, s in series.items():
        stats[key].messages += len(s.log)
        idx = reversals(s, gap_ns)
        for prev, i in zip([0, *idx], idx):
            jump = float(s.stamp[prev:i].max() - s.stamp[i]) / 1e9
            stats[key].time_reversals.append((s.log[i] / 1e9, jump))
            if cfg.on_time_reversal == "error":
                raise BagError(
                    f"{key[0]}: time goes back by {jump:.3g} s at message {i} "
                    f"(log time {s.log[i] / 1e9:.3f} s); "
                    "set bag.on_time_reversal: split to cut the recording there, or bag.time_base: log_time"
                )
        cuts += s.log[idx].tolist()
    edges = [-(2**62), *sorted(set(cuts)), 2**62]
    out: list[Episode] = []
    for lo, hi in itertools.pairwise(edges):
        report.segments += 1
        out += _segment(series, lo, hi, cfg, period_ns, gap_ns, stats, report)
    return out


def _segment(series, lo, hi, cfg: BagConfig, period_ns, gap_ns, stats, report: BagReport) -> list[Episode]:
    streams: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for key, s in series.items():
        a, b = np.searchsorted(s.log, [lo, hi])  # log times are sorted: a view, no copy
        t, v = clean(s.stamp[a:b], s.values[a:b], stats[key])
        stats[key].gaps += int((np.diff(t) > gap_ns).sum())
        streams[key] = (t, v)
    if any(len(t) == 0 for t, _ in streams.values()):
        return []
    sensors = {k[0]: v for k, v in streams.items() if k[1] == "obs"}
    grid = time_axis(sensors, _reference(cfg), period_ns, cfg.resample)
    if len(grid) < 2:
        return []
    K = len(grid)
    obs = np.zeros((K, len(cfg.observation)))
    act = np.zeros((K - 1, len(cfg.action)))
    ok_obs = np.ones(K, dtype=bool)
    ok_act = np.ones(K - 1, dtype=bool)
    ends = grid[1:]
    for key, (t, v) in streams.items():
        cols = [i for i, _ in _slots(cfg)[key]]
        if key[1] == "obs":
            values, ok = sample(t, v, grid, cfg.sensors, gap_ns)
            obs[:, cols], ok_obs = values, ok_obs & ok
        else:
            at, strict = (ends, True) if cfg.command_at == "end" else (grid[:-1], False)
            values, ok = sample(t, v, at, cfg.commands, gap_ns, strict)
            act[:, cols], ok_act = values, ok_act & ok
    valid = ok_obs[:-1] & ok_obs[1:] & ok_act
    if cfg.resample == "reference":
        valid &= np.diff(grid) <= gap_ns
    last_action = [
        (i, parse_source(f.field).index)
        for i, f in enumerate(cfg.observation)
        if parse_source(f.field).group == "last_action"
    ]
    out = []
    for a, b in runs(valid):
        if b - a < cfg.min_episode_steps:
            report.short_episodes += 1
            report.short_steps += b - a
            continue
        o, u = obs[a : b + 1].copy(), act[a:b]
        for col, j in last_action:  # the previous step's command, 0 before the first
            o[1:, col] = u[:, j]
            o[0, col] = 0.0
        out.append(Episode(o.astype(np.float32), u.astype(np.float32), grid[a : b + 1] / 1e9))
    return out


def split_in_time(
    episodes: list[Episode], fraction: float, min_steps: int
) -> tuple[list[Episode], list[Episode]]:
    """(train, held-out): the held-out part is the last ``fraction`` of the steps in time; an
    episode straddling the cut is split there (each piece kept if it has ``min_steps`` steps)."""
    total = sum(e.steps for e in episodes)
    want = round(total * fraction)
    if want == 0:
        return list(episodes), []
    train, heldout, seen = [], [], 0
    for e in episodes:
        left = total - want - seen  # steps still owed to the training part
        seen += e.steps
        if left <= 0:
            heldout.append(e)
        elif left >= e.steps:
            train.append(e)
        else:
            head = Episode(e.obs[: left + 1], e.act[:left], e.t[: left + 1])
            tail = Episode(e.obs[left + 1 :], e.act[left + 1 :], e.t[left + 1 :])  # no shared step
            if head.steps >= min_steps:
                train.append(head)
            if tail.steps >= min_steps:
                heldout.append(tail)
    return train, heldout
