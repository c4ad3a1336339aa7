"""One test per control mode (effort, position + PD, velocity) over DDS with real policy nodes: the
published command equals the deployment contract's formula computed from the bundle's raw output,
``clip(offset + scale * output, low, high)`` per joint, in the configured joint order, in the
JointState/JointTrajectory field the mode names. The incoming JointState has its joints permuted
and carries joints the bundle does not use. Plus: a JointState missing a needed joint gives the
safe command, and the diagnostic names the joint."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

pytest.importorskip("rclpy")

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from rnn_control.contract import ActionField, ObservationField
from rnn_control.contract.fields import parse_source
from rnn_control.ros.codecs import time_msg
from rnn_control.ros.common import qos_profile
from rnn_control.runtime import Stepper
from tests.bundles import make_policy_bundle
from tests.ros_support import NodeProcess, Probe, wait_inputs_matched

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]
RELIABLE = qos_profile("reliable", 1000)

OBSERVATION = [
    ObservationField("j3_q", "joint_state/position/j3", "rad"),
    ObservationField("j1_q", "joint_state/position/j1", "rad"),
    ObservationField("j2_q", "joint_state/position/j2", "rad"),
    ObservationField("j1_dq", "joint_state/velocity/j1", "rad/s"),
    ObservationField("j2_dq", "joint_state/velocity/j2", "rad/s"),
    ObservationField("p_q", "joint_state/position/passive", "rad"),  # read, never commanded
]


def _effort(joint: str, low: float, high: float, scale: float, offset: float = 0.0) -> ActionField:
    return ActionField(f"{joint}_tau", f"joint/{joint}", low, high, scale=scale, offset=offset,
                       mode="effort", effort_limit=max(-low, high), unit="N*m")  # fmt: skip


def _position(joint: str, low: float, high: float, scale: float, default: float) -> ActionField:
    return ActionField(f"{joint}_q", f"joint/{joint}", low, high, safe=default, scale=scale, offset=default,
                       mode="position", default_position=default, kp=30.0, kd=1.0, effort_limit=10.0,
                       unit="rad")  # fmt: skip


def _velocity(joint: str, low: float, high: float, scale: float, offset: float = 0.0) -> ActionField:
    return ActionField(f"{joint}_dq", f"joint/{joint}", low, high, scale=scale, offset=offset,
                       mode="velocity", kd=0.3, unit="rad/s")  # fmt: skip


ACTIONS = {  # limits chosen so that some outputs clip and others do not
    "effort": [_effort("j1", -1.5, 1.5, 4.0, 0.2), _effort("j2", -1.0, 1.0, 1.5),
               _effort("j3", -2.0, 1.5, 2.0, -0.5)],
    "position": [_position("j1", -0.5, 1.0, 2.5, 0.2), _position("j2", -1.5, 0.0, 0.8, -0.7),
                 _position("j3", -0.3, 0.3, 1.0, 0.0)],
    "velocity": [_velocity("j1", -1.0, 1.0, 3.0), _velocity("j2", -0.5, 1.0, 2.0),
                 _velocity("j3", -1.0, 1.0, 0.7, 0.1)],
}  # fmt: skip
SECOND = {"effort": "joint_state", "position": "joint_trajectory", "velocity": "joint_state"}
MSG = {
    "float64_multi_array": Float64MultiArray,
    "joint_state": JointState,
    "joint_trajectory": JointTrajectory,
}
COMMAND_JOINTS = ["j3", "j1", "j2"]  # a ros2_control controller's order, not the bundle's (j1, j2, j3)
ROBOT_ORDER = ["extra_a", "j2", "passive", "j3", "wheel", "j1"]  # what the robot publishes


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("ros_modes")


@pytest.fixture(scope="module")
def probe():
    rclpy.init()
    p = Probe("modes_probe")
    yield p
    p.close()
    rclpy.try_shutdown()


def _params(bundle, joint_states: str, **extra) -> dict:
    return {
        "bundle": bundle, "autostart": True, "mode": "event", "fade_in": 0.0, "watchdog_periods": 10000.0,
        "sensor_qos": "reliable", "sensor_qos_depth": 1000, "joint_state_topic": joint_states, **extra,
    }  # fmt: skip


def _joint_state(rng: np.random.Generator, names=ROBOT_ORDER) -> JointState:
    n = len(names)
    msg = JointState(name=list(names), position=rng.uniform(-1.5, 1.5, n).tolist(),
                     velocity=rng.normal(0.0, 2.0, n).tolist(),
                     effort=rng.normal(0.0, 5.0, n).tolist())  # fmt: skip
    msg.header.stamp = time_msg(time.time_ns())
    return msg


def _observation(msg: JointState) -> np.ndarray:
    """The bundle's observation read off ``msg`` by joint name (what the node must do)."""
    values = []
    for f in OBSERVATION:
        field, joint = parse_source(f.source).path
        values.append(getattr(msg, field)[list(msg.name).index(joint)])
    return np.array(values)


def _contract(actions: list[ActionField], raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The contract's command (action order) and which entries the limits clipped."""
    scale = np.array([f.scale for f in actions])
    offset = np.array([f.offset for f in actions])
    low, high = np.array([f.low for f in actions]), np.array([f.high for f in actions])
    unclipped = offset + scale * raw.astype(np.float64)
    command = np.clip(unclipped, low, high)
    return command, command != unclipped


@pytest.mark.parametrize("mode", ["effort", "position", "velocity"])
def test_command_equals_the_contract_formula(tmp, probe, mode):
    actions = ACTIONS[mode]
    bundle = make_policy_bundle(tmp, obs_dim=len(OBSERVATION), act_dim=3, observation=OBSERVATION,
                                action=actions, name=f"mode_{mode}", seed=7)  # fmt: skip
    topic, second = f"/m_{mode}/joint_states", SECOND[mode]
    ns = {"float64_multi_array": f"/m_{mode}_f", second: f"/m_{mode}_j"}
    params = {  # one node per command message; both hear the same JointState topic
        "float64_multi_array": _params(bundle, topic, command_joints=COMMAND_JOINTS),
        second: _params(bundle, topic, command_type=second),  # joint_command_field unset: the mode's
    }
    nodes = {kind: NodeProcess("policy_node", params[kind], tmp, namespace=ns[kind]) for kind in ns}
    pub = probe.node.create_publisher(JointState, topic, RELIABLE)
    got = {kind: probe.collect(MSG[kind], f"{ns[kind]}/command", RELIABLE) for kind in nodes}
    try:

        def connected() -> bool:
            for proc in nodes.values():
                assert proc.alive(), proc.log()
            publishers = all(probe.node.count_publishers(f"{n}/command") > 0 for n in ns.values())
            return pub.get_subscription_count() >= 2 and publishers

        probe.spin_until(connected, 30.0, "both nodes to connect")
        probe.spin_for(0.5)
        for received in got.values():
            received.clear()  # the safe command published at activation, if it was heard
        rng = np.random.default_rng(11)
        sent = []
        for k in range(25):
            msg = _joint_state(rng)
            sent.append(msg)
            pub.publish(msg)
            probe.spin_until(lambda k=k: all(len(r) > k for r in got.values()), 10.0, f"command {k}")
        probe.spin_for(0.2)
        assert all(len(r) == len(sent) for r in got.values()), {k: len(r) for k, r in got.items()}

        stepper = Stepper.load(bundle)
        expected, clipped = zip(*(_contract(actions, stepper.step(_observation(m)).copy()) for m in sent))
        expected, clipped = np.array(expected), np.array(clipped)
        assert clipped.any() and not clipped.all(), "exercise both the affine map and the clip"
        order = [["j1", "j2", "j3"].index(j) for j in COMMAND_JOINTS]
        floats = np.array([list(m.data) for m in got["float64_multi_array"]])
        np.testing.assert_allclose(floats, expected[:, order], rtol=0, atol=1e-6)

        field = {"effort": "effort", "position": "positions", "velocity": "velocity"}[mode]
        if second == "joint_state":
            for msg, want, source in zip(got[second], expected, sent):
                assert list(msg.name) == ["j1", "j2", "j3"]
                np.testing.assert_allclose(getattr(msg, field), want, rtol=0, atol=1e-6)
                others = [f for f in ("position", "velocity", "effort") if f != field]
                assert all(len(getattr(msg, f)) == 0 for f in others), "only the mode's field is set"
                assert msg.header.stamp == source.header.stamp  # event mode: the sensor's stamp
        else:
            for msg, want in zip(got[second], expected):
                assert list(msg.joint_names) == ["j1", "j2", "j3"] and len(msg.points) == 1
                point = msg.points[0]
                np.testing.assert_allclose(point.positions, want, rtol=0, atol=1e-6)
                assert len(point.velocities) == 0 and len(point.effort) == 0
                assert point.time_from_start.sec == 0 and point.time_from_start.nanosec == 20_000_000
        if mode == "position":  # a zero output commands the default pose, inside the position limits
            defaults = np.array([f.default_position for f in actions])
            assert ((expected >= [f.low for f in actions]) & (expected <= [f.high for f in actions])).all()
            np.testing.assert_allclose(_contract(actions, np.zeros(3))[0], defaults)
    finally:
        for proc in nodes.values():
            assert proc.stop() == 0, proc.log()


def _watch_diagnostics(probe: Probe) -> dict[str, tuple[int, str, dict[str, str]]]:
    seen: dict[str, tuple[int, str, dict[str, str]]] = {}

    def on_diag(msg: DiagnosticArray) -> None:
        for s in msg.status:
            level = int.from_bytes(s.level, "little") if isinstance(s.level, bytes) else s.level
            seen[s.name] = (level, s.message, {kv.key: kv.value for kv in s.values})

    probe.node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
    return seen


def test_missing_joint_gives_the_safe_command_and_the_diagnostic_names_it(tmp, probe):
    actions = [dataclasses.replace(f, safe=s) for f, s in zip(ACTIONS["effort"], (0.5, -0.25, 0.0))]
    bundle = make_policy_bundle(tmp, obs_dim=len(OBSERVATION), act_dim=3, observation=OBSERVATION,
                                action=actions, name="missing", seed=7)  # fmt: skip
    params = _params(bundle, "/miss/joint_states", command_joints=COMMAND_JOINTS, watchdog_periods=10.0,
                     diagnostics_period=0.1)  # fmt: skip
    proc = NodeProcess("policy_node", params, tmp, namespace="/miss")
    diagnostics = _watch_diagnostics(probe)
    pub = probe.node.create_publisher(JointState, "/miss/joint_states", RELIABLE)
    commands = probe.collect(Float64MultiArray, "/miss/command", RELIABLE)
    safe_ordered = np.array([0.0, 0.5, -0.25])  # the safe values in command_joints order j3, j1, j2
    rng = np.random.default_rng(5)

    def feed(until, names=ROBOT_ORDER, what: str = "", seconds: float = 10.0) -> None:
        """Publish JointStates every 10 ms until ``until()`` holds (waits by state, not by time: a
        stalled host must not fail it)."""
        end = time.monotonic() + seconds
        while not until():
            assert time.monotonic() < end, f"timed out feeding until {what}: {status()}"
            pub.publish(_joint_state(rng, names))
            probe.spin_for(0.01)

    def commanding() -> bool:
        return bool(commands) and not np.allclose(commands[-1].data, safe_ordered)

    def status() -> tuple[int, str, dict[str, str]] | None:
        return next((v for k, v in diagnostics.items() if "/miss/policy_node" in k), None)

    try:
        probe.spin_until(lambda: pub.get_subscription_count() > 0 and proc.alive(), 30.0, "the node")
        wait_inputs_matched(probe, "/miss/policy_node", ("joint_state",))
        feed(commanding, what="policy commands while every joint is there")
        without_j2 = [n for n in ROBOT_ORDER if n != "j2"]
        # the watchdog (10 periods = 0.2 s) trips: the safe command is held
        tripped = lambda: (v := status()) is not None and v[2]["watchdog_latched"] == "True"  # noqa: E731
        feed(tripped, without_j2, "the watchdog trips")
        held = len(commands)
        feed(lambda: len(commands) - held >= 5, without_j2, "five commands after the trip")
        np.testing.assert_array_equal(commands[-1].data, safe_ordered)
        feed(lambda: int(status()[2]["rejected_missing_joint"]) > 10, without_j2, "rejections counted")
        level, message, values = status()
        assert values["missing_joints"] == "j2" and int(values["rejected_missing_joint"]) > 10
        assert values["watchdog_latched"] == "True" and level == 1  # WARN
        assert message.startswith("watchdog: sensor data stale, safe command latched")
        assert "JointState lacks joint(s) j2" in message
        log = proc.log()
        assert log.count("JointState rejected: it lacks joint(s) ['j2'] the bundle needs") == 1, log

        # the robot publishes every joint again: control resumes, the diagnostic clears
        feed(lambda: commanding() and status()[0] == 0, what="control resumes")
        level, message, values = status()
        assert values["missing_joints"] == "" and "lacks" not in message and level == 0
    finally:
        assert proc.stop() == 0, proc.log()
