"""The observation vector, kept up to date from sensor messages and the node's own commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnn_control.ros.codecs.base import REJECT_REASONS, ReaderLimits, SensorReader, group_sources
from rnn_control.ros.codecs.tables import make_readers


class ObservationAssembler:
    """One reader per sensor group the bundle reads (one subscription each), their freshness and
    reject counters; ``last_action`` slots are filled by :meth:`set_last_action`."""

    def __init__(self, sources: Sequence[str], limits: ReaderLimits | None = None) -> None:
        self.limits = limits or ReaderLimits()
        by_group = group_sources(sources)
        self.obs = np.zeros(len(sources), dtype=np.float64)
        feedback = by_group.pop("last_action", [])
        self.feedback_index = np.array([i for i, _ in feedback], dtype=np.intp)
        self.feedback_element = np.array([field.index for _, field in feedback], dtype=np.intp)
        self.readers: dict[str, SensorReader] = make_readers(by_group, self.limits)
        self.groups = list(self.readers)
        self.rejected: dict[str, int] = dict.fromkeys(REJECT_REASONS, 0)
        self.accepted: dict[str, int] = dict.fromkeys(self.groups, 0)
        self.last_fresh: dict[str, float | None] = dict.fromkeys(self.groups)
        self._ready = not self.groups

    def on_message(self, group: str, msg: Any, now_ns: int, monotonic: float) -> bool:
        """Validate and apply one message; ``False`` (and a counted reason) if it was dropped."""
        reason = self.readers[group].read(msg, self.obs, now_ns)
        if reason is not None:
            self.rejected[reason] += 1
            return False
        self.accepted[group] += 1
        self.last_fresh[group] = monotonic
        return True

    def set_last_action(self, command: np.ndarray) -> None:
        """Copy the node's last command into the ``last_action/<i>`` slots."""
        if self.feedback_index.size:
            self.obs[self.feedback_index] = np.asarray(command, dtype=np.float64)[self.feedback_element]

    def ready(self) -> bool:
        """Every group has delivered at least one good message."""
        if not self._ready:
            self._ready = all(t is not None for t in self.last_fresh.values())
        return self._ready

    def stale_groups(self, monotonic: float, max_age: float) -> list[str]:
        """Groups without a good message for more than ``max_age`` seconds (or never)."""
        if self.ready() and monotonic - min(self.last_fresh.values(), default=monotonic) <= max_age:
            return []  # the per-tick answer, in one comparison
        return [g for g, t in self.last_fresh.items() if t is None or monotonic - t > max_age]

    def forget(self) -> None:
        """Require fresh data from every group again (and accept any stamp order)."""
        self.last_fresh = dict.fromkeys(self.groups)
        self._ready = not self.groups
        for r in self.readers.values():
            r.reset()

    @property
    def unknown_joints(self) -> int:
        """Accepted JointStates that carried joints the bundle does not use."""
        r = self.readers.get("joint_state")
        return r.unknown_joints if r is not None else 0

    @property
    def missing_joints(self) -> list[str]:
        """The joints the last JointState lacked, if it was rejected for that ([] once one has all)."""
        r = self.readers.get("joint_state")
        return list(getattr(r, "missing_joints", [])) if r is not None else []

    @property
    def rejected_total(self) -> int:
        """Dropped messages, all reasons."""
        return sum(self.rejected.values())


class SampleTrigger:
    """Which accepted sensor message completes a sample: each message of one group, or with
    ``all`` the last of one new message per group (a robot's drivers publish one tick's messages
    back to back, in no set order; stepping on the first would read the others a tick old)."""

    def __init__(self, groups: Sequence[str], trigger: str) -> None:
        self.groups = list(groups)
        self.trigger = trigger or (self.groups[0] if self.groups else "")
        if self.trigger not in self.groups and not (self.trigger == "all" and self.groups):
            raise ValueError(
                f"trigger '{trigger}' is not a sensor group the bundle reads "
                f"({', '.join(self.groups) or 'none'}) or 'all'"
            )
        self._fresh: set[str] = set()  # all: groups with a new message since the last sample

    def fires(self, group: str) -> bool:
        """Whether this accepted message of ``group`` completes a sample."""
        if self.trigger != "all":
            return group == self.trigger
        self._fresh.add(group)
        if len(self._fresh) < len(self.groups):
            return False
        self._fresh.clear()
        return True

    def reset(self) -> None:
        """Forget the messages of a sample not yet complete."""
        self._fresh.clear()
