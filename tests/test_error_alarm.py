"""The monitor's alarm statistic and the trigger that decides when a reading is complete."""

from __future__ import annotations

import pytest

from rnn_control.runtime.error_alarm import ERROR, OK, WARN, ErrorAlarm


def test_the_alarm_waits_for_the_warmup_and_a_full_window_then_levels_by_the_mean():
    alarm = ErrorAlarm(threshold=2.0, factor=2.0, window=3, warmup=2)
    for e in (100.0, 100.0):  # the warm-up: not counted
        alarm.add(e)
    assert alarm.evaluate()[0] == OK and not alarm.errors
    alarm.add(3.0)
    alarm.add(3.0)
    assert alarm.evaluate()[0] == OK  # 2 of 3: the window is not full
    alarm.add(3.0)
    level, message, recent = alarm.evaluate()
    assert (level, recent) == (WARN, 3.0) and "(> 2)" in message
    alarm.add(9.0)
    alarm.add(9.0)
    assert alarm.evaluate()[:1] == (ERROR,) and alarm.evaluate()[2] == pytest.approx(7.0)


def test_a_restart_warms_up_again_and_clears_the_window_unless_told_not_to():
    alarm = ErrorAlarm(threshold=1.0, factor=2.0, window=2, warmup=1)
    for e in (0.0, 5.0, 5.0):
        alarm.add(e)
    assert alarm.evaluate()[0] == ERROR
    alarm.restart(clear=False)
    alarm.add(100.0)  # warm-up again: not counted, the window still holds the last two
    assert alarm.evaluate()[2] == 5.0
    alarm.restart()
    assert alarm.evaluate() == (OK, "prediction error 0.00", 0.0)


def test_trigger_all_fires_on_the_last_of_one_new_message_per_group():
    pytest.importorskip("rclpy")
    from rnn_control.ros.codecs import SampleTrigger

    t = SampleTrigger(["joint_state", "imu"], "all")
    assert [t.fires(g) for g in ("imu", "imu", "joint_state", "joint_state", "imu")] == [
        False, False, True, False, True,
    ]  # fmt: skip
    t.fires("imu")
    t.reset()  # a sample begun before a reset does not complete after it
    assert not t.fires("joint_state")
    first = SampleTrigger(["joint_state", "imu"], "")
    assert first.trigger == "joint_state" and first.fires("joint_state") and not first.fires("imu")
    with pytest.raises(ValueError, match="not a sensor group"):
        SampleTrigger(["joint_state"], "odometry")
