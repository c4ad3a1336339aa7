"""Message layer: sensor readers (validation, reordering), command writers and their inverses.

Plain message objects, no DDS (the DDS path is covered by test_ros_policy_node.py)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

pytest.importorskip("rclpy")

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray

from rnn_control.contract.fields import SENSOR_GROUPS
from rnn_control.ros.codecs import (
    COMMAND_TYPES,
    READERS,
    CommandReader,
    ObservationAssembler,
    ReaderLimits,
    SensorMessageBuilder,
    make_writer,
    time_msg,
)

NOW = time.time_ns()


def js(names, pos=None, vel=None, stamp=NOW) -> JointState:
    msg = JointState(name=list(names))
    msg.position = list(pos if pos is not None else [0.0] * len(names))
    msg.velocity = list(vel if vel is not None else [0.0] * len(names))
    msg.header.stamp = time_msg(stamp)
    return msg


@pytest.fixture
def joints() -> ObservationAssembler:
    sources = [
        "joint_state/position/hip",
        "joint_state/velocity/hip",
        "joint_state/position/knee",
        "vector/1",
    ]
    return ObservationAssembler(sources, ReaderLimits())


def test_joint_state_matched_by_name_and_reordered(joints):
    msg = js(["knee", "ankle", "hip"], pos=[2.0, 9.0, 1.0], vel=[20.0, 90.0, 10.0])
    assert joints.on_message("joint_state", msg, NOW, 0.0)
    np.testing.assert_array_equal(joints.obs[:3], [1.0, 10.0, 2.0])
    assert joints.unknown_joints == 1  # "ankle" is ignored but counted
    assert joints.groups == ["joint_state", "vector"]
    assert not joints.ready()  # the vector group has not delivered yet
    assert joints.on_message("vector", Float64MultiArray(data=[5.0, 6.0]), NOW, 0.0)
    assert joints.ready() and joints.obs[3] == 6.0


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (js([]), "empty"),
        (js(["hip", "hip", "knee"]), "duplicate_joint"),
        (js(["hip"]), "missing_joint"),
        (js(["hip", "knee"], pos=[1.0]), "wrong_length"),
        (js(["hip", "knee"], pos=[math.nan, 0.0]), "non_finite"),
        (js(["hip", "knee"], vel=[math.inf, 0.0]), "non_finite"),
        (js(["hip", "knee"], pos=[1e12, 0.0]), "out_of_range"),
        (js(["hip", "knee"], stamp=NOW + 3600 * 10**9), "future_stamp"),
    ],
)
def test_bad_joint_states_are_dropped_and_counted(joints, msg, reason):
    joints.on_message("joint_state", js(["hip", "knee"], pos=[1.0, 2.0]), NOW, 0.0)
    before = joints.obs.copy()
    assert not joints.on_message("joint_state", msg, NOW, 1.0)
    assert joints.rejected[reason] == 1 and joints.rejected_total == 1
    np.testing.assert_array_equal(joints.obs, before)  # nothing half-applied
    assert joints.last_fresh["joint_state"] == 0.0  # a bad message is not fresh data


def test_out_of_order_stamps_are_dropped_and_unstamped_accepted(joints):
    assert joints.on_message("joint_state", js(["hip", "knee"], stamp=NOW), NOW, 0.0)
    assert not joints.on_message("joint_state", js(["hip", "knee"], stamp=NOW - 10**9), NOW, 0.0)
    assert joints.rejected["out_of_order_stamp"] == 1
    assert joints.on_message("joint_state", js(["hip", "knee"], stamp=0), NOW, 0.0)  # unstamped: no check


@pytest.mark.parametrize(
    ("data", "reason"),
    [([], "empty"), ([1.0], "wrong_length"), ([1, 2, 3], "wrong_length"), ([0.0, math.nan], "non_finite")],
)
def test_bad_vectors_are_dropped(joints, data, reason):
    assert not joints.on_message("vector", Float64MultiArray(data=[float(x) for x in data]), NOW, 0.0)
    assert joints.rejected[reason] == 1


def test_imu_without_orientation_is_refused_when_orientation_is_needed():
    a = ObservationAssembler(["imu/orientation/w", "imu/angular_velocity/z"])
    msg = Imu()
    msg.header.stamp = time_msg(NOW)
    msg.orientation.w, msg.angular_velocity.z = 0.5, 3.0
    assert a.on_message("imu", msg, NOW, 0.0)
    np.testing.assert_array_equal(a.obs, [0.5, 3.0])
    msg.orientation_covariance[0] = -1.0
    assert not a.on_message("imu", msg, NOW, 0.0) and a.rejected["missing_field"] == 1


def test_last_action_feedback_and_staleness():
    a = ObservationAssembler(["vector/0", "last_action/1"])
    a.set_last_action(np.array([7.0, 8.0]))
    assert a.obs[1] == 8.0
    assert a.stale_groups(10.0, 1.0) == ["vector"]
    a.on_message("vector", Float64MultiArray(data=[1.0]), NOW, 10.0)
    assert a.stale_groups(10.5, 1.0) == [] and a.stale_groups(11.5, 1.0) == ["vector"]


def test_float64_writer_layouts_and_inverse():
    w = make_writer("float64_multi_array", ["vector/2", "vector/0"])
    gapped = w.make(np.array([1.0, 2.0]))
    assert list(gapped.data) == [2.0, 0.0, 1.0]  # the unused element is sent as 0
    r = CommandReader("float64_multi_array", ["vector/2", "vector/0"])
    np.testing.assert_array_equal(r.read(gapped), [1.0, 2.0])
    w = make_writer("float64_multi_array", ["joint/a", "joint/b"], command_joints=["b", "a"])
    msg = w.make(np.array([1.0, 2.0]))
    assert list(msg.data) == [2.0, 1.0]
    r = CommandReader("float64_multi_array", ["joint/a", "joint/b"], command_joints=["b", "a"])
    np.testing.assert_array_equal(r.read(msg), [1.0, 2.0])
    assert r.read(Float64MultiArray(data=[1.0])) is None
    assert r.read(Float64MultiArray(data=[1.0, math.nan])) is None


@pytest.mark.parametrize("command_type", ["joint_state", "joint_trajectory"])
def test_joint_writers_round_trip(command_type):
    targets = ["joint/hip", "joint/knee"]
    w = make_writer(command_type, targets, joint_command_field="effort", time_from_start=0.01)
    msg = w.make(np.array([0.5, -0.5]), Time(sec=3))
    r = CommandReader(command_type, targets, joint_command_field="effort")
    np.testing.assert_array_equal(r.read(msg), [0.5, -0.5])
    if command_type == "joint_state":
        assert list(msg.effort) == [0.5, -0.5] and msg.header.stamp.sec == 3
    else:
        assert msg.points[0].time_from_start.nanosec == 10_000_000 and msg.header.stamp.sec == 0


def test_twist_writer():
    w = make_writer("twist", ["twist/angular/z", "twist/linear/x"])
    msg = w.make(np.array([0.3, 1.5]))
    assert isinstance(msg, Twist) and msg.linear.x == 1.5 and msg.angular.z == 0.3


@pytest.mark.parametrize(
    ("command_type", "targets", "options", "complaint"),
    [
        ("twist", ["vector/0"], {}, "twist/{linear,angular}"),
        ("joint_state", ["vector/0"], {}, "joint targets only"),
        ("float64_multi_array", ["vector/0", "joint/a"], {}, "all action targets"),
        (
            "float64_multi_array",
            ["joint/a"],
            {"command_joints": ["a", "b"]},
            "exactly the bundle's action joints",
        ),
        ("joint_state", ["joint/a"], {"joint_command_field": "torque"}, "joint_command_field"),
        ("bogus", ["vector/0"], {}, "not one of"),
    ],
)
def test_unsatisfiable_command_layouts_say_why(command_type, targets, options, complaint):
    with pytest.raises(ValueError) as info:
        make_writer(command_type, targets, **options)
    assert complaint in str(info.value)


def test_sensor_builder_is_the_inverse_of_the_readers():
    sources = [
        "joint_state/velocity/b",
        "joint_state/position/a",
        "imu/angular_velocity/y",
        "odometry/twist/linear/x",
        "twist/angular/z",
        "vector/2",
        "last_action/0",
    ]
    obs = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0])
    msgs = SensorMessageBuilder(sources).build(obs, time_msg(NOW))
    assert sorted(msgs) == ["imu", "joint_state", "odometry", "twist", "vector"]
    a = ObservationAssembler(sources)
    for group, msg in msgs.items():
        assert a.on_message(group, msg, NOW, 0.0), group
    np.testing.assert_array_equal(a.obs[:6], obs[:6])


def test_every_sensor_group_and_command_type_has_one_codec():
    assert tuple(READERS) == SENSOR_GROUPS
    assert set(COMMAND_TYPES) == {"float64_multi_array", "joint_state", "joint_trajectory", "twist"}


def test_twist_writer_inverse_and_odometry_paths():
    r = CommandReader("twist", ["twist/angular/z", "twist/linear/x"])
    msg = make_writer("twist", ["twist/angular/z", "twist/linear/x"]).make(np.array([0.3, 1.5]))
    np.testing.assert_array_equal(r.read(msg), [0.3, 1.5])
    sources = ["odometry/pose/position/x", "odometry/twist/angular/z"]
    odom = SensorMessageBuilder(sources).build(np.array([4.0, -2.0]), time_msg(NOW))["odometry"]
    assert odom.pose.pose.position.x == 4.0 and odom.twist.twist.angular.z == -2.0
    assert odom.header.stamp == time_msg(NOW)
