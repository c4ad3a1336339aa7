"""CommandTimeline: the command in effect between two readings, by publish time, whatever order
the messages arrive in."""

from __future__ import annotations

import numpy as np

from rnn_control.runtime.command_timeline import CommandTimeline

MS = 1_000_000


def _summary(intervals):
    """(start sent, end sent, command sent or None, late) per interval, in ms."""
    return [
        (i.start.sent // MS, i.end.sent // MS, None if i.command is None else i.command.sent // MS, i.late)
        for i in intervals
    ]


def test_an_answered_reading_closes_when_the_next_answer_arrives():
    t = CommandTimeline()
    assert t.add_reading(0, [0.0]) == []
    assert t.add_command(2 * MS, [1.0]) == []
    reading, command = t.open_answer()
    assert (reading.sent, command.sent) == (0, 2 * MS)
    assert t.add_reading(50 * MS, [0.5]) == []  # the next command may still be in flight
    closed = t.add_command(52 * MS, [2.0])
    assert _summary(closed) == [(0, 50, 2, False)]
    assert closed[0].command.value.tolist() == [1.0] and closed[0].end.obs.tolist() == [0.5]
    reading, command = t.open_answer()
    assert (reading.sent, command.sent) == (50 * MS, 52 * MS)


def test_a_late_answer_leaves_the_previous_command_in_effect():
    t = CommandTimeline()
    t.add_reading(0, [0.0])
    t.add_command(2 * MS, [1.0])
    t.add_reading(50 * MS, [0.1])
    # the answer to the 50 ms reading comes after the 100 ms tick: the robot held the 2 ms command
    assert t.add_reading(100 * MS, [0.2]) == []  # the answer may still be on its way
    closed = t.add_command(101 * MS, [3.0])  # it was late: it settles both intervals
    assert _summary(closed) == [(0, 50, 2, False), (50, 100, 2, True)]
    assert closed[1].command.value.tolist() == [1.0]


def test_a_quiet_controller_settles_after_patience_readings():
    t = CommandTimeline(patience=3)
    t.add_reading(0, [0.0])
    t.add_command(2 * MS, [1.0])
    for k in (1, 2, 3):
        assert t.add_reading(k * 50 * MS, [0.0]) == []
    closed = t.add_reading(200 * MS, [0.0])
    assert _summary(closed) == [(0, 50, 2, False)]  # then one interval per further reading
    assert _summary(t.add_reading(250 * MS, [0.0])) == [(50, 100, 2, True)]


def test_a_command_that_arrives_after_a_later_reading_is_still_used():
    """The monitor takes a reading before the command published ahead of it (two topics, one
    executor): the interval waits, and the command published first is the one in effect."""
    t = CommandTimeline()
    t.add_reading(0, [0.0])
    t.add_reading(50 * MS, [0.1])  # arrives before the 2 ms command
    closed = t.add_command(2 * MS, [1.0])
    assert closed == []  # 2 ms is before the 50 ms reading: its answer may still come
    assert _summary(t.add_command(51 * MS, [2.0])) == [(0, 50, 2, False)]


def test_readings_before_any_command_close_without_one():
    t = CommandTimeline(patience=1)
    t.add_reading(0, [0.0])
    t.add_reading(50 * MS, [0.0])
    assert _summary(t.add_reading(100 * MS, [0.0])) == [(0, 50, None, False)]
    assert t.open_answer() is None


def test_the_newest_of_several_commands_per_period_is_in_effect():
    t = CommandTimeline()
    t.add_reading(0, [0.0])
    for k in range(1, 5):
        t.add_command(k * 10 * MS, [float(k)])
    t.add_reading(45 * MS, [0.0])
    closed = t.add_command(50 * MS, [5.0])
    assert closed[0].command.value.tolist() == [4.0]
    assert len(t.commands) <= 2  # only what a future interval can still need is kept


def test_a_delayed_command_from_another_publisher_is_ordered_by_publish_time():
    t = CommandTimeline(patience=1)
    t.add_reading(0, [0.0])
    t.add_command(30 * MS, [3.0])
    t.add_command(20 * MS, [2.0])  # published earlier, arrived later
    closed = t.add_reading(25 * MS, [0.0])  # the 30 ms command settles it at once
    assert _summary(closed) == [(0, 25, 20, False)]
    assert np.all(np.diff([c.sent for c in t.commands]) >= 0)


def test_a_command_just_before_a_reading_comes_with_the_one_before_it_as_alternative():
    t = CommandTimeline(margin_ns=5 * MS)
    t.add_reading(0, [0.0])
    t.add_command(2 * MS, [1.0])
    t.add_reading(50 * MS, [0.0])
    closed = t.add_command(51 * MS, [2.0])
    assert closed[0].alternative is None  # the 2 ms command was far from the 50 ms reading
    t.add_command(98 * MS, [3.0])  # 2 ms before the next reading: it may have missed the tick
    closed = t.add_reading(100 * MS, [0.0]) + t.add_command(101 * MS, [4.0])
    assert closed[0].command.value.tolist() == [3.0] and closed[0].alternative.value.tolist() == [2.0]
    # a margin longer than a quarter of the period shrinks to it
    t = CommandTimeline(margin_ns=40 * MS)
    t.add_reading(0, [0.0])
    t.add_command(30 * MS, [1.0])
    closed = t.add_reading(50 * MS, [0.0]) + t.add_command(51 * MS, [2.0])
    assert closed[0].alternative is None
