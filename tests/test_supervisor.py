"""The shared safety supervisor, without DDS: time is passed in, so every rule is checked exactly."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_control.runtime.supervisor import (
    ESTOP,
    ESTOP_EVENT,
    RELEASE_EVENT,
    WAITING,
    WATCHDOG,
    Supervisor,
)

PERIOD = 0.25  # binary-exact times: every interval below is exact in floating point
TIMEOUT = 1.0  # 4 periods
SAFE = np.array([1.0, -2.0])


class Sensors:
    """Sensor freshness the way ObservationAssembler reports it, driven by hand."""

    def __init__(self, *groups: str) -> None:
        self.last: dict[str, float | None] = dict.fromkeys(groups)

    def deliver(self, now: float, *groups: str) -> None:
        for g in groups or tuple(self.last):
            self.last[g] = now

    def ready(self) -> bool:
        return all(t is not None for t in self.last.values())

    def stale_groups(self, monotonic: float, max_age: float) -> list[str]:
        return [g for g, t in self.last.items() if t is None or monotonic - t > max_age]


def make(*groups: str, fade_in: float = 0.0, count_late: bool = True, stamp_dt: bool = True):
    sensors = Sensors(*(groups or ("a",)))
    resets: list[int] = []
    sup = Supervisor(
        sensors, period=PERIOD, watchdog_timeout=TIMEOUT, fade_in=fade_in, safe=SAFE,
        reset_state=lambda: resets.append(1), count_late=count_late, stamp_dt=stamp_dt,
    )  # fmt: skip
    return sup, sensors, resets


def run(sup: Supervisor, sensors: Sensors, start: float, stop: float, *fresh: str) -> list:
    """Tick every period in [start, stop], delivering ``fresh`` groups (all if none) just before."""
    holds = []
    for k in range(round((stop - start) / PERIOD) + 1):
        now = start + k * PERIOD
        sensors.deliver(now, *fresh)
        sup.tick(now)
        holds.append(sup.hold)
    return holds


# ------------------------------------------------------------------------------------- e-stop


def test_estop_latches_until_reset_and_counts_once():
    sup, sensors, resets = make()
    sup.activate(0.0)
    assert run(sup, sensors, 0.0, 0.5) == [None] * 3
    assert sup.estop() is ESTOP_EVENT and sup.estop_latched
    assert sup.estop() is None  # already latched: no second event, no second count
    assert sup.estop_events == 1
    assert run(sup, sensors, 0.75, 2.0) == [ESTOP] * 6  # fresh sensors do not release it
    assert sup.reset(2.1) is True and not sup.estop_latched
    assert resets == [1, 1] and sup.state_resets == 2  # activation + reset
    assert run(sup, sensors, 2.25, 2.5) == [None, None]
    assert sup.reset(3.0) is False  # nothing to release: only the state reset


def test_activation_does_not_release_the_estop():
    sup, sensors, _ = make()
    sup.estop()
    sup.activate(0.0)
    assert run(sup, sensors, 0.0, 0.25) == [ESTOP, ESTOP]


def test_no_watchdog_transitions_while_estopped():
    sup, sensors, resets = make("a", "b")
    sup.activate(0.0)
    run(sup, sensors, 0.0, 0.25)
    sup.estop()
    run(sup, sensors, 0.5, 3.0, "a")  # b silent for 2.75 s, but the e-stop holds already
    assert sup.watchdog_trips == 0 and not sup.watchdog_latched
    sup.reset(3.0)
    assert sup.tick(3.25) is not None and sup.hold == WATCHDOG  # now it trips
    assert sup.watchdog_trips == 1 and len(resets) == 2


# ----------------------------------------------------------------------------------- watchdog


def test_waiting_for_sensors_until_every_group_delivered_once_without_tripping():
    sup, sensors, _ = make("a", "b")
    sup.activate(0.0)
    assert run(sup, sensors, 0.0, 5.0, "a") == [WAITING] * 21  # b never delivered: no trip
    assert sup.watchdog_trips == 0 and not sup.watchdog_latched
    sensors.deliver(5.1, "b")
    assert run(sup, sensors, 5.25, 5.5) == [None, None]


def test_watchdog_trips_when_one_group_is_silent_while_the_others_flow():
    sup, sensors, _ = make("a", "b", "c")
    sup.activate(0.0)
    sensors.deliver(0.0)
    events = []
    for k in range(9):
        now = k * PERIOD
        sensors.deliver(now, "a", "c")
        events.append((now, sup.tick(now), sup.hold))
    # b's last data at 0.0: not stale at exactly the timeout (1.0), stale after it
    assert [h for _, _, h in events] == [None] * 5 + [WATCHDOG] * 4
    trips = [(now, e) for now, e, _ in events if e is not None]
    assert len(trips) == 1 and trips[0][0] == 1.25
    event = trips[0][1]
    assert event.kind == "watchdog_trip" and event.warning
    assert event.message == "watchdog: no fresh b data; safe command latched"
    assert sup.watchdog_trips == 1 and sup.watchdog_latched


def test_watchdog_releases_only_when_every_group_is_fresh_then_resets_and_fades_in_again():
    sup, sensors, resets = make("a", "b", "c", fade_in=1.0)
    sup.activate(0.0)
    run(sup, sensors, 0.0, 0.5)
    sup.tick(2.0)  # nobody fresh for 1.5 s
    assert sup.hold == WATCHDOG and sup.watchdog_trips == 1 and len(resets) == 1
    assert run(sup, sensors, 2.25, 3.0, "a", "b") == [WATCHDOG] * 4  # c still silent
    assert len(resets) == 1 and sup.watchdog_latched
    sensors.deliver(3.625, "c")
    event = sup.tick(3.625)  # 0.375 s after the previous tick
    assert event is RELEASE_EVENT and not event.warning
    assert event.message == "watchdog: fresh data on every sensor; resuming"
    assert sup.hold is None and not sup.watchdog_latched
    assert len(resets) == 2 and sup.state_resets == 2  # state reset on recovery
    assert sup.dt == PERIOD  # the first step from the clean state: the control period, not 0.375 s
    assert sup.fade_alpha(3.625) == 0.0 and sup.fade_alpha(4.125) == 0.5  # the fade-in restarted
    np.testing.assert_array_equal(sup.fade(np.array([3.0, 2.0]), 3.625), SAFE)
    sensors.deliver(4.0)
    assert sup.tick(4.0) is None and sup.hold is None  # one release event only
    assert sup.dt == 0.375  # then the clock again
    assert sup.watchdog_trips == 1 and len(resets) == 2


def test_event_mode_update_alone_trips_and_releases_without_counting_ticks():
    sup, sensors, resets = make("a")
    sup.activate(0.0)
    sensors.deliver(0.0)
    assert sup.update(0.5) is None and sup.hold is None and not sup.latched
    assert sup.update(1.5).kind == "watchdog_trip" and sup.latched
    sensors.deliver(1.6)
    assert sup.update(1.7) is RELEASE_EVENT and not sup.latched and len(resets) == 2
    sup.estop()
    sup.update(1.8)
    assert sup.latched and sup.hold == ESTOP
    assert sup.ticks == 0


def test_hold_reason_is_a_query_that_changes_nothing():
    sup, sensors, resets = make("a")
    assert sup.hold_reason(0.0) == WAITING
    sensors.deliver(0.0)
    for _ in range(3):
        assert sup.hold_reason(2.0) == WATCHDOG
    assert sup.watchdog_trips == 0 and not sup.watchdog_latched and sup.ticks == 0
    sup.update(2.0)
    assert sup.watchdog_latched
    sensors.deliver(2.5)
    assert sup.hold_reason(2.5) is None  # what update() would decide ...
    assert sup.watchdog_latched and resets == []  # ... without releasing anything
    sup.estop()
    assert sup.hold_reason(2.5) == ESTOP and sup.estop_latched


# ------------------------------------------------------------------------------------ fade-in


def test_fade_in_shape_and_duration():
    sup, _, _ = make(fade_in=0.5)
    sup.activate(10.0)
    command = np.array([3.0, 2.0])
    expected = {10.0: [1.0, -2.0], 10.125: [1.5, -1.0], 10.25: [2.0, 0.0], 10.375: [2.5, 1.0]}
    for t, want in expected.items():
        np.testing.assert_array_equal(sup.fade(command, t), want)
        assert sup.fade_alpha(t) == (t - 10.0) / 0.5
    assert sup.fade(command, 10.5) is command and sup.fade_alpha(10.5) == 1.0  # done at fade_in
    assert sup.fade(command, 12.0) is command
    np.testing.assert_array_equal(command, [3.0, 2.0])  # the caller's array is not modified


def test_no_fade_in_when_it_is_zero():
    sup, _, _ = make(fade_in=0.0)
    sup.activate(1.0)
    command = np.array([3.0, 2.0])
    assert sup.fade(command, 1.0) is command and sup.fade_alpha(1.0) == 1.0


def test_first_command_after_activation():
    sup, sensors, resets = make(fade_in=0.5)
    sensors.deliver(9.9)
    sup.activate(10.0)
    assert resets == [1] and sup.state_resets == 1
    assert sup.tick(10.125) is None and sup.hold is None
    assert sup.dt == PERIOD  # no previous tick: the control period (not 0.125 s)
    np.testing.assert_array_equal(sup.fade(np.array([3.0, 2.0]), 10.125), [1.5, -1.0])  # alpha .25
    sup.tick(10.5)
    assert sup.dt == 0.375


# ----------------------------------------------------------------------------------------- dt


def _dts(sup: Supervisor, sensors: Sensors, ticks) -> list[float]:
    out = []
    for now, stamp in ticks:
        sensors.deliver(now)
        sup.tick(now, stamp)
        out.append(sup.dt)
    return out


MS = 1_000_000  # ns


def test_dt_from_stamps_versus_the_clock():
    ticks = [(0.0, 100 * MS), (0.5, 150 * MS), (1.0, 200 * MS), (1.25, None)]
    sup, sensors, _ = make(count_late=False)
    sup.activate(0.0)
    assert _dts(sup, sensors, ticks) == pytest.approx([PERIOD, 0.05, 0.05, 0.25], abs=1e-12)
    sup, sensors, _ = make(count_late=False, stamp_dt=False)  # dt_source: arrival
    sup.activate(0.0)
    assert _dts(sup, sensors, ticks) == [PERIOD, 0.5, 0.5, 0.25]


def test_dt_falls_back_to_the_clock_on_bad_stamps():
    sup, sensors, _ = make(count_late=False)
    sup.activate(0.0)
    ticks = [
        (0.0, 1000 * MS),
        (0.5, 900 * MS),  # backwards
        (1.0, 900 * MS),  # no change
        (1.5, 2000 * MS),  # 1.1 s: longer than the watchdog timeout
        (2.0, 3000 * MS),  # exactly the timeout: still a stamp interval
        (2.25, 3010 * MS),
    ]
    assert _dts(sup, sensors, ticks) == pytest.approx([PERIOD, 0.5, 0.5, 0.5, 1.0, 0.01], abs=1e-12)


def test_first_tick_after_a_reset_gets_the_period_but_records_its_stamp():
    sup, sensors, _ = make(count_late=False)
    sup.activate(0.0)
    _dts(sup, sensors, [(0.0, 100 * MS), (0.25, 110 * MS)])
    sup.reset(0.3)
    # without the reset: the stamp interval 0.39 s; after it: the period, then stamps again
    assert _dts(sup, sensors, [(0.625, 500 * MS), (0.75, 520 * MS)]) == pytest.approx([PERIOD, 0.02])


# ------------------------------------------------------------------------ late / missed ticks


def test_late_and_missed_ticks_in_timer_mode():
    sup, sensors, _ = make()
    sup.activate(0.0)
    times = [0.0, 0.25, 0.5, 1.25, 1.625, 2.125]  # intervals .25 .25 .75 .375 .5 (period .25)
    _dts(sup, sensors, [(t, None) for t in times])
    # .75: late, 2 missed; .375 = 1.5 periods: on time; .5: late, 1 missed
    assert (sup.late_ticks, sup.missed_ticks, sup.ticks) == (2, 3, 6)
    sup.reset(5.0)
    _dts(sup, sensors, [(10.0, None)])  # after a reset, no previous tick to be late against
    assert (sup.late_ticks, sup.missed_ticks) == (2, 3)


def test_no_late_ticks_counted_in_event_mode():
    sup, sensors, _ = make(count_late=False)
    sup.activate(0.0)
    _dts(sup, sensors, [(t, None) for t in (0.0, 0.75, 2.0)])
    assert (sup.late_ticks, sup.missed_ticks, sup.ticks) == (0, 0, 3)


# ----------------------------------------------------------------------------------- counters


def test_counters_and_their_survival_across_configure():
    sup, sensors, resets = make("a", "b")
    sup.activate(0.0)
    run(sup, sensors, 0.0, 0.5)
    sup.tick(2.0)  # trip
    sensors.deliver(2.25)
    sup.tick(2.25)  # release
    sup.estop()
    sup.reset(3.0)
    assert sup.counters == {
        "ticks": 5, "late_ticks": 1, "missed_ticks": 5, "watchdog_trips": 1,
        "watchdog_latched": False, "estop_latched": False, "estop_events": 1, "state_resets": 3,
    }  # fmt: skip
    assert len(resets) == sup.state_resets
    sup.tick(3.25)
    sup.estop()
    sup.configure(Sensors("x"), period=0.5, watchdog_timeout=2.0, fade_in=0.0, safe=SAFE)
    assert sup.estop_latched and sup.counters["ticks"] == 6 and sup.counters["estop_events"] == 2
    assert sup.last_tick is None and sup.period == 0.5


@pytest.mark.parametrize(("period", "timeout"), [(0.0, 1.0), (0.1, 0.0), (float("nan"), 1.0)])
def test_rejects_a_non_positive_period_or_timeout(period, timeout):
    with pytest.raises(ValueError, match="must be > 0"):
        Supervisor(Sensors("a"), period=period, watchdog_timeout=timeout, fade_in=0.0, safe=SAFE)


def test_observation_assembler_is_the_sensor_interface():
    """The node hands its ObservationAssembler to the supervisor: the same rules, real messages."""
    pytest.importorskip("rclpy")
    from geometry_msgs.msg import Twist
    from std_msgs.msg import Float64MultiArray

    from rnn_control.ros.codecs import ObservationAssembler

    assembler = ObservationAssembler(["vector/0", "twist/linear/x"])
    sup = Supervisor(assembler, period=PERIOD, watchdog_timeout=TIMEOUT, fade_in=0.0, safe=SAFE)
    vector, twist = Float64MultiArray(data=[0.5]), Twist()
    assert assembler.on_message("vector", vector, 0, 0.0)
    sup.tick(0.0)
    assert sup.hold == WAITING
    assert assembler.on_message("twist", twist, 0, 0.1)
    sup.tick(0.25)
    assert sup.hold is None
    for k in range(2, 8):  # twist falls silent
        assembler.on_message("vector", vector, 0, k * PERIOD)
        event = sup.tick(k * PERIOD)
    assert sup.hold == WATCHDOG and event is None and sup.watchdog_trips == 1
    assembler.on_message("twist", twist, 0, 2.0)
    assert sup.tick(2.0) is RELEASE_EVENT
