"""The safety state machine every control node shares: e-stop, watchdog, fade-in, dt, tick counts.

Plain Python (numpy for the fade-in blend); no ROS. Time is passed in: ``now`` is a steady
clock in seconds (``time.monotonic()``), stamps are integer nanoseconds. A node calls

- :meth:`Supervisor.tick` once per control tick. It performs every transition (late and missed
  ticks, watchdog trip and release, dt estimation) and returns an :class:`Event` to log when a
  latch changed, else ``None``; afterwards :attr:`Supervisor.hold` says whether the controller may
  run (``None``) or why the safe command goes out instead, and :attr:`Supervisor.dt` is the
  step's dt. :meth:`Supervisor.fade` blends the controller's command in from the safe one.
- :meth:`Supervisor.update` for the transitions alone (e.g. an event-mode watchdog timer).
- :meth:`Supervisor.estop`, :meth:`Supervisor.reset`, :meth:`Supervisor.activate` from the
  e-stop input, the reset service and lifecycle activation.

Queries (:meth:`Supervisor.hold_reason`, :meth:`Supervisor.fade_alpha`, :attr:`Supervisor.counters`)
never change anything.

Rules:

- **e-stop**: latched by :meth:`estop`, released only by :meth:`reset`.
- **waiting for sensors**: until every sensor group has delivered once (no watchdog before).
- **watchdog**: trips when any group is older than ``watchdog_timeout``; releases only when every
  group is fresh again, and then the controller state is reset (``reset_state``) and the fade-in
  restarts.
- **fade-in**: ``safe + alpha * (command - safe)`` with ``alpha = elapsed / fade_in`` for
  ``elapsed < fade_in`` since the last (re)start.
- **dt**: the steady clock's interval since the previous tick; with stamps (event mode,
  ``stamp_dt``) the stamp difference when ``0 < dt <= watchdog_timeout``, else the clock's
  interval; the first tick after a (re)start: the control period.
- **late ticks** (timer mode, ``count_late``): an interval over 1.5 periods is one late tick and
  ``round(interval / period) - 1`` missed ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

ESTOP = "estop"
WAITING = "waiting for sensors"
WATCHDOG = "watchdog"
HOLD_REASONS = (ESTOP, WAITING, WATCHDOG)

LATE_FACTOR = 1.5  # an interval longer than this many periods is a late tick


class SensorFreshness(Protocol):
    """What the supervisor needs to know about the sensors (an ObservationAssembler has it)."""

    def ready(self) -> bool:
        """Every sensor group has delivered at least once."""
        ...

    def stale_groups(self, monotonic: float, max_age: float) -> Sequence[str]:
        """Groups without fresh data for more than ``max_age`` seconds (or never); empty if none."""
        ...


@dataclass(frozen=True)
class Event:
    """A latch changed: what a node logs (``warning``: at warning level, else info)."""

    kind: str  # "estop", "watchdog_trip" or "watchdog_release"
    message: str
    warning: bool


ESTOP_EVENT = Event("estop", "E-STOP: safe command latched until ~/reset is called", True)
RELEASE_EVENT = Event("watchdog_release", "watchdog: fresh data on every sensor; resuming", False)


def _nothing() -> None:
    return None


class Supervisor:
    """Latches, fade-in, dt and tick counting for one control loop.

    ``safe``: the safe command (the fade-in starts from it). ``reset_state``: called whenever the
    controller must start from a clean state (activation, reset, watchdog release).
    ``count_late``: count late/missed ticks (timer mode). ``stamp_dt``: use stamp differences as
    dt when stamps are given (event mode, ``dt_source: stamp``).

    Latches and counters survive :meth:`configure` (an e-stop outlives a cleanup/configure).
    """

    def __init__(
        self,
        sensors: SensorFreshness,
        *,
        period: float,
        watchdog_timeout: float,
        fade_in: float,
        safe: np.ndarray,
        reset_state: Callable[[], None] = _nothing,
        count_late: bool = True,
        stamp_dt: bool = True,
    ) -> None:
        self.ticks = self.late_ticks = self.missed_ticks = 0
        self.watchdog_trips = self.state_resets = self.estop_events = 0
        self.estop_latched = self.watchdog_latched = False
        self.hold: str | None = WAITING  # as of the last tick/update: None (run) or why not
        self.dt = float(period)  # the last tick's dt
        self.last_tick: float | None = None
        self.fade_start = 0.0
        self._last_stamp_ns = 0
        self.configure(
            sensors, period=period, watchdog_timeout=watchdog_timeout, fade_in=fade_in, safe=safe,
            reset_state=reset_state, count_late=count_late, stamp_dt=stamp_dt,
        )  # fmt: skip

    def configure(
        self,
        sensors: SensorFreshness,
        *,
        period: float,
        watchdog_timeout: float,
        fade_in: float,
        safe: np.ndarray,
        reset_state: Callable[[], None] = _nothing,
        count_late: bool = True,
        stamp_dt: bool = True,
    ) -> None:
        """Set the loop's parameters (again); latches and counters are kept."""
        if not period > 0:
            raise ValueError(f"period must be > 0, got {period}")
        if not watchdog_timeout > 0:
            raise ValueError(f"watchdog_timeout must be > 0, got {watchdog_timeout}")
        self.sensors = sensors
        self.period = float(period)
        self.watchdog_timeout = float(watchdog_timeout)
        self.fade_in = float(fade_in)
        self.safe = np.array(safe, dtype=np.float64)
        self.reset_state = reset_state
        self.count_late = bool(count_late)
        self.stamp_dt = bool(stamp_dt)
        self._late_interval = LATE_FACTOR * self.period
        self.last_tick = None

    # ------------------------------------------------------------------ queries
    def hold_reason(self, now: float) -> str | None:
        """Why the controller must not run at ``now`` (``ESTOP``, ``WAITING``, ``WATCHDOG``) or
        ``None``; what :meth:`update` would leave in :attr:`hold`, without changing anything."""
        if self.estop_latched:
            return ESTOP
        if not self.sensors.ready():
            return WAITING
        if self.sensors.stale_groups(now, self.watchdog_timeout):
            return WATCHDOG
        return None

    def fade_alpha(self, now: float) -> float:
        """The fade-in weight of the controller's command at ``now``: 0 at the (re)start, 1 after
        ``fade_in`` seconds."""
        elapsed = now - self.fade_start
        return elapsed / self.fade_in if elapsed < self.fade_in else 1.0

    @property
    def latched(self) -> bool:
        """After the last tick/update: the e-stop or the watchdog holds the safe command (not
        merely waiting for the first sensor data)."""
        return self.hold == ESTOP or self.hold == WATCHDOG

    @property
    def counters(self) -> dict[str, int | bool]:
        """Every counter and latch, flat."""
        return {
            "ticks": self.ticks,
            "late_ticks": self.late_ticks,
            "missed_ticks": self.missed_ticks,
            "watchdog_trips": self.watchdog_trips,
            "watchdog_latched": self.watchdog_latched,
            "estop_latched": self.estop_latched,
            "estop_events": self.estop_events,
            "state_resets": self.state_resets,
        }

    # ------------------------------------------------------------------ transitions
    def tick(self, now: float, stamp_ns: int | None = None) -> Event | None:
        """One control tick at ``now`` (``stamp_ns``: the trigger message's stamp, if any).

        Counts late/missed ticks, performs the latch transitions (:meth:`update`), estimates
        :attr:`dt`; afterwards :attr:`hold` is ``None`` when the controller may step.
        """
        last = self.last_tick
        if last is not None and self.count_late:
            interval = now - last
            if interval > self._late_interval:
                self.late_ticks += 1
                self.missed_ticks += round(interval / self.period) - 1
        event = self.update(now)
        last = self.last_tick  # None after a restart in update(): the first step gets the period
        dt = self.period if last is None else now - last
        if stamp_ns is not None and self.stamp_dt:
            previous, self._last_stamp_ns = self._last_stamp_ns, stamp_ns
            if last is not None:
                stamp_dt = (stamp_ns - previous) * 1e-9
                if 0.0 < stamp_dt <= self.watchdog_timeout:
                    dt = stamp_dt
        self.dt = dt
        self.last_tick = now
        self.ticks += 1
        return event

    def update(self, now: float) -> Event | None:
        """The latch transitions at ``now``: set :attr:`hold`; trip or release the watchdog (the
        returned event says which). While the e-stop is latched, or before every sensor has
        delivered once, the watchdog neither trips nor releases."""
        if self.estop_latched:
            self.hold = ESTOP
            return None
        sensors = self.sensors
        if not sensors.ready():
            self.hold = WAITING
            return None
        stale = sensors.stale_groups(now, self.watchdog_timeout)
        if stale:
            self.hold = WATCHDOG
            if self.watchdog_latched:
                return None
            self.watchdog_latched = True
            self.watchdog_trips += 1
            return Event(
                "watchdog_trip", f"watchdog: no fresh {', '.join(stale)} data; safe command latched", True
            )
        self.hold = None
        if not self.watchdog_latched:
            return None
        self.watchdog_latched = False  # every sensor is fresh again: resume from a clean state
        self._restart(now)
        return RELEASE_EVENT

    def fade(self, command: np.ndarray, now: float) -> np.ndarray:
        """``command`` blended from the safe command during the fade-in (a new array then);
        ``command`` itself afterwards."""
        elapsed = now - self.fade_start
        if elapsed < self.fade_in:
            alpha = elapsed / self.fade_in
            return self.safe + alpha * (command - self.safe)
        return command

    def estop(self) -> Event | None:
        """Latch the e-stop; the event only when it was not latched already."""
        if self.estop_latched:
            return None
        self.estop_latched = True
        self.estop_events += 1
        return ESTOP_EVENT

    def reset(self, now: float) -> bool:
        """Release the e-stop, reset the controller state, restart the fade-in; ``True`` if an
        e-stop was released. The watchdog latch stays until the sensors are fresh."""
        released = self.estop_latched
        self.estop_latched = False
        self._restart(now)
        return released

    def activate(self, now: float) -> None:
        """Start control: reset the controller state and start the fade-in (latches stay)."""
        self._restart(now)

    def _restart(self, now: float) -> None:
        self.reset_state()
        self.state_resets += 1
        self.fade_start = now
        self.last_tick = None
