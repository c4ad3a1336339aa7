"""Which command was in effect between two sensor readings, from the messages' publish times.

A robot (or the sim bridge) samples its sensors and applies the newest command it holds at
every control tick. So over the interval from reading ``r_k`` to reading ``r_k+1`` it applied
the newest command published before ``r_k+1`` was: normally the controller's answer to ``r_k``,
but the *previous* command when that answer came too late for the tick (the robot held the old
one). A dynamics model trained on ``(obs_t, act_t) -> obs_t+1`` must be stepped with the command
the robot applied, or a slow controller looks like a faulty plant.

:class:`CommandTimeline` takes readings and commands in whatever order they arrive, with their
publish times (DDS source timestamps, one clock), and hands out each interval once its command is
settled: when a command published after ``r_k+1`` has arrived (a controller's messages arrive in
order, so every earlier one is here), or, for a controller that has gone quiet, when ``patience``
more readings have (a node that falls behind may take a later reading before an earlier command:
one period is not enough). :meth:`CommandTimeline.open_answer` gives the controller's answer
to the newest reading so far, for a prediction published before the interval closes.

A command published just before ``r_k+1`` may or may not have reached the robot before its tick
(transport and the robot's own step take time): when the newest command published more than
``margin`` before ``r_k+1`` differs from the newest one, the interval carries it as its
``alternative``, and the user (the monitor) keeps whichever fits the reading better.

Pure Python + numpy; used by the dynamics monitor node.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reading:
    """A sensor reading: arrival sequence number, publish time (ns) and the assembled observation."""

    seq: int
    sent: int
    obs: np.ndarray


@dataclass(frozen=True)
class Command:
    """A command and its publish time (ns)."""

    sent: int
    value: np.ndarray


@dataclass(frozen=True)
class Interval:
    """From reading ``start`` to reading ``end``, the robot applied ``command`` (``None``: no command
    was published before ``end``, the robot held its safe command). ``late``: the command in effect
    was published before ``start``, i.e. the controller's answer to ``start`` missed the tick."""

    start: Reading
    end: Reading
    command: Command | None
    alternative: Command | None = None  # in effect if the newest commands missed the robot's tick

    @property
    def late(self) -> bool:
        """The robot held a command older than the interval's first reading."""
        return self.command is not None and self.command.sent < self.start.sent


class CommandTimeline:
    """Readings and commands ordered by publish time; closes the intervals between readings."""

    def __init__(self, margin_ns: int = 0, patience: int = 3, max_commands: int = 4096) -> None:
        self.margin_ns = int(margin_ns)
        self.patience = max(1, int(patience))
        self.readings: deque[Reading] = deque()  # the open intervals' readings (at most 2 between calls)
        self.commands: deque[Command] = deque(maxlen=max_commands)  # from the one in effect at readings[0]
        self._seq = 0

    def clear(self) -> None:
        """Forget every reading and command (a new episode: nothing carries over)."""
        self.readings.clear()
        self.commands.clear()

    def add_reading(self, sent: int, obs: np.ndarray) -> list[Interval]:
        """Record a reading; return the intervals this settles (oldest first)."""
        self._seq += 1
        self.readings.append(Reading(self._seq, int(sent), np.array(obs, dtype=np.float64)))
        return self._close()

    def add_command(self, sent: int, value: np.ndarray) -> list[Interval]:
        """Record a command; return the intervals this settles (oldest first)."""
        command = Command(int(sent), np.array(value, dtype=np.float64))
        if self.commands and command.sent < self.commands[-1].sent:  # another publisher's, delayed
            items = sorted([*self.commands, command], key=lambda c: c.sent)
            self.commands.clear()
            self.commands.extend(items)
        else:
            self.commands.append(command)
        return self._close()

    def open_answer(self) -> tuple[Reading, Command] | None:
        """The newest command published after the first reading whose interval is still open, if
        any: the controller's answer to it so far."""
        if not self.readings or not self.commands:
            return None
        first, command = self.readings[0], self.commands[-1]
        return (first, command) if command.sent >= first.sent else None

    def _in_effect(self, at: int) -> Command | None:
        return next((c for c in reversed(self.commands) if c.sent <= at), None)

    def _close(self) -> list[Interval]:
        closed = []
        # readings[0] is the first open interval's start; it closes once readings[1] is here and
        # either a command published after readings[1] or `patience` more readings have arrived
        while len(self.readings) >= 2:
            start, end = self.readings[0], self.readings[1]
            quiet = len(self.readings) >= 2 + self.patience
            settled = quiet or (self.commands and self.commands[-1].sent > end.sent)
            if not settled:
                break
            command = self._in_effect(end.sent)
            # at most a quarter of the interval: a margin as long as the period would be meaningless
            margin = min(self.margin_ns, (end.sent - start.sent) // 4)
            alternative = self._in_effect(end.sent - margin) if margin > 0 else command
            closed.append(Interval(start, end, command, alternative if alternative is not command else None))
            self.readings.popleft()
        # keep the command in effect at the first open reading and everything after it
        first = self.readings[0].sent if self.readings else None
        while len(self.commands) >= 2 and (first is None or self.commands[1].sent <= first):
            self.commands.popleft()
        return closed
