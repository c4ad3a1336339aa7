"""The policy node as a real process over DDS, driven by an in-test rclpy node.

Each process gets its own namespace so the module's nodes never hear each other."""

from __future__ import annotations

import math
import os
import signal
import time

import numpy as np
import pytest

pytest.importorskip("rclpy")

import rclpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger

from rnn_control.contract import ActionField, ObservationField
from rnn_control.ros.codecs import time_msg
from rnn_control.ros.common import apply_realtime_settings, events_executor_available, qos_profile
from rnn_control.runtime import Controller
from tests.bundles import make_policy_bundle
from tests.ros_support import NodeProcess, Probe

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]
RELIABLE = qos_profile("reliable", 1000)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("ros_policy")


@pytest.fixture(scope="module")
def probe():
    rclpy.init()
    p = Probe("policy_probe")
    p.watch_diagnostics()
    yield p
    p.close()
    rclpy.try_shutdown()


def _wait_connected(probe: Probe, pub, commands_topic: str, proc: NodeProcess, timeout: float = 20.0) -> None:
    def ok() -> bool:
        assert proc.alive(), f"node exited:\n{proc.log()}"
        return pub.get_subscription_count() > 0 and probe.node.count_publishers(commands_topic) > 0

    probe.spin_until(ok, timeout, "the node to connect")
    probe.spin_for(0.3)


def _vec(values) -> Float64MultiArray:
    return Float64MultiArray(data=[float(v) for v in values])


# ---------------------------------------------------------------------------- event mode, vector


@pytest.fixture(scope="module")
def vector_node(tmp, probe):
    bundle = make_policy_bundle(tmp, cell="gru", obs_dim=3, act_dim=2, name="vec")
    proc = NodeProcess(
        "policy_node",
        {
            "bundle": bundle,
            "autostart": True,
            "mode": "event",
            "fade_in": 0.0,
            "sensor_qos": "reliable",
            "sensor_qos_depth": 100,
        },
        tmp,
        namespace="/vec",
    )
    pub = probe.node.create_publisher(Float64MultiArray, "/vec/observation", RELIABLE)
    commands = probe.collect(Float64MultiArray, "/vec/command", RELIABLE)
    _wait_connected(probe, pub, "/vec/command", proc)
    yield bundle, proc, pub, commands
    assert proc.stop() == 0, proc.log()


def _run_sequence(probe, pub, commands, observations) -> np.ndarray:
    commands.clear()
    out = []
    for k, obs in enumerate(observations):
        pub.publish(_vec(obs))
        probe.spin_until(lambda k=k: len(commands) > k, 5.0, f"command {k}")
        out.append(list(commands[k].data))
    return np.array(out)


def test_command_matches_the_runtime_for_the_same_observations(vector_node, probe):
    bundle, _proc, pub, commands = vector_node
    rng = np.random.default_rng(0)
    observations = rng.normal(size=(25, 3))
    got = _run_sequence(probe, pub, commands, observations)
    ref = Controller.load(bundle)
    expected = np.array([ref.step(o) for o in observations])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(expected).max() > 1e-3  # a non-trivial policy


def test_reset_service_zeroes_the_recurrent_state(vector_node, probe):
    bundle, _proc, pub, commands = vector_node
    observations = np.random.default_rng(1).normal(size=(10, 3))
    assert probe.call(Trigger, "/vec/policy_node/reset").success
    first = _run_sequence(probe, pub, commands, observations)
    ref = Controller.load(bundle)
    np.testing.assert_allclose(first, [ref.step(o) for o in observations], atol=1e-5)
    again = _run_sequence(probe, pub, commands, observations)  # continues from the carried state
    assert not np.allclose(first, again, atol=1e-4)
    response = probe.call(Trigger, "/vec/policy_node/reset")
    assert response.success, response.message
    after_reset = _run_sequence(probe, pub, commands, observations)
    np.testing.assert_allclose(after_reset, first, atol=1e-6)


# ------------------------------------------------------- joint states: reorder, fuzz malformed input

JOINT_OBS = [
    ObservationField("b_pos", "joint_state/position/b"),
    ObservationField("a_pos", "joint_state/position/a"),
    ObservationField("a_vel", "joint_state/velocity/a"),
    ObservationField("bias", "vector/0"),
]
JOINT_ACT = [
    ActionField("a_eff", "joint/a", -1.5, 1.5),
    ActionField("b_eff", "joint/b", -0.5, 0.25, safe=0.1),
]


@pytest.fixture(scope="module")
def joint_node(tmp, probe):
    bundle = make_policy_bundle(
        tmp, obs_dim=4, act_dim=2, observation=JOINT_OBS, action=JOINT_ACT, name="joints"
    )
    params = {
        "bundle": bundle,
        "autostart": True,
        "mode": "event",
        "fade_in": 0.0,
        "sensor_qos": "reliable",
        "sensor_qos_depth": 1000,
        "command_type": "joint_state",
        "joint_command_field": "effort",
        "diagnostics_period": 0.2,
        "watchdog_periods": 1000.0,
    }
    proc = NodeProcess("policy_node", params, tmp, namespace="/jnt")
    js_pub = probe.node.create_publisher(JointState, "/jnt/joint_states", RELIABLE)
    vec_pub = probe.node.create_publisher(Float64MultiArray, "/jnt/observation", RELIABLE)
    commands = probe.collect(JointState, "/jnt/command", RELIABLE)
    _wait_connected(probe, js_pub, "/jnt/command", proc)
    probe.spin_until(lambda: vec_pub.get_subscription_count() > 0, 10, "vector subscription")
    yield bundle, proc, js_pub, vec_pub, commands
    assert proc.stop() == 0, proc.log()


def _joint_state(names, pos, vel, stamp_ns) -> JointState:
    msg = JointState(name=list(names), position=[float(x) for x in pos], velocity=[float(x) for x in vel])
    msg.header.stamp = time_msg(stamp_ns)
    return msg


def test_joint_states_are_matched_by_name_and_commands_carry_joint_names(joint_node, probe):
    bundle, _proc, js_pub, vec_pub, commands = joint_node
    vec_pub.publish(_vec([0.3]))
    probe.spin_for(0.2)
    commands.clear()
    ref = Controller.load(bundle)
    rng = np.random.default_rng(2)
    for k in range(15):
        a_pos, a_vel, b_pos, c_pos = rng.normal(size=4)
        # the robot's order (c, b, a) differs from the bundle's; "c" is not used by the bundle
        js_pub.publish(
            _joint_state(["c", "b", "a"], [c_pos, b_pos, a_pos], [9.0, 9.0, a_vel], time.time_ns())
        )
        probe.spin_until(lambda k=k: len(commands) > k, 5.0, f"command {k}")
        msg = commands[k]
        assert list(msg.name) == ["a", "b"]
        np.testing.assert_allclose(msg.effort, ref.step([b_pos, a_pos, a_vel, 0.3]), atol=1e-5)


CASES = (
    "valid",
    "unknown_joint",
    "empty",
    "duplicate_joint",
    "missing_joint",
    "wrong_length",
    "non_finite",
    "out_of_range",
    "out_of_order_stamp",
    "future_stamp",
    "vector_valid",
    "vector_empty",
    "vector_wrong_length",
    "vector_non_finite",
    "vector_out_of_range",
)
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
huge = st.floats(1e7, 1e300) | st.floats(-1e300, -1e7)
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])


@st.composite
def malformed(draw):
    kind = draw(st.sampled_from(CASES))
    values = draw(st.lists(finite, min_size=3, max_size=3))
    names = draw(st.permutations(["a", "b"]))
    return kind, values, names, draw(non_finite), draw(huge), draw(st.integers(0, 2)), draw(st.integers(2, 5))


def test_fuzzed_malformed_messages_never_crash_or_escape_limits(joint_node, probe):
    """Thousands of property-based malformed messages over DDS: the node survives, every command is
    finite and inside the bundle's limits, and every case is counted in /diagnostics."""
    _bundle, proc, js_pub, vec_pub, commands = joint_node
    vec_pub.publish(_vec([0.1]))
    js_pub.publish(_joint_state(["a", "b"], [0, 0], [0, 0], time.time_ns()))
    probe.spin_for(0.5)
    base = dict(probe.diag("/jnt/policy_node"))
    expected = dict.fromkeys(CASES, 0)
    last_stamp = [time.time_ns()]

    def stamp() -> int:
        last_stamp[0] = max(time.time_ns(), last_stamp[0] + 1)
        return last_stamp[0]

    @settings(
        max_examples=2000,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(malformed())
    def send(case) -> None:
        kind, v, names, bad, big, which, n = case
        expected[kind] += 1
        pos, vel = [v[0], v[1]], [v[2], v[0]]
        if kind.startswith("vector"):
            data = {
                "vector_valid": [v[0]],
                "vector_empty": [],
                "vector_wrong_length": v[:1] * n,
                "vector_non_finite": [bad],
                "vector_out_of_range": [big],
            }[kind]
            vec_pub.publish(_vec(data))
        elif kind in ("valid", "non_finite", "out_of_range"):
            if kind != "valid":  # one needed value: a or b position, or a velocity (b's is unused)
                (pos if which < 2 else vel)[names.index("ab"[which % 2])] = (
                    bad if kind == "non_finite" else big
                )
            js_pub.publish(_joint_state(names, pos, vel, stamp()))
        elif kind == "unknown_joint":
            js_pub.publish(_joint_state([*names, "zz"], [*pos, 1.0], [*vel, 1.0], stamp()))
        elif kind == "empty":
            js_pub.publish(JointState())
        elif kind == "duplicate_joint":
            js_pub.publish(_joint_state([*names, names[0]], [*pos, 0.0], [*vel, 0.0], stamp()))
        elif kind == "missing_joint":
            js_pub.publish(_joint_state(names[:1], pos[:1], vel[:1], stamp()))
        elif kind == "wrong_length":
            js_pub.publish(_joint_state(names, pos, vel[:1] if which else [*vel, 0.0], stamp()))
        elif kind == "out_of_order_stamp":
            js_pub.publish(_joint_state(names, pos, vel, last_stamp[0] - 10**9))
        elif kind == "future_stamp":
            js_pub.publish(_joint_state(names, pos, vel, time.time_ns() + 3600 * 10**9))
        probe.executor.spin_once(timeout_sec=0)

    send()
    total = sum(expected.values())
    assert total == 2000

    def counted() -> bool:
        d = probe.diag("/jnt/policy_node")
        seen = sum(
            int(d[k]) - int(base[k]) for k in ("rejected_total", "accepted_joint_state", "accepted_vector")
        )
        return seen >= total

    probe.spin_until(counted, 30.0, "every fuzzed message to show up in /diagnostics")
    d = probe.diag("/jnt/policy_node")
    delta = {k: int(d[k]) - int(base[k]) for k in d if k.startswith(("rejected_", "accepted_", "unknown_"))}
    joint_reasons = (
        "empty",
        "duplicate_joint",
        "missing_joint",
        "wrong_length",
        "out_of_order_stamp",
        "future_stamp",
    )
    want = {f"rejected_{r}": expected[r] for r in joint_reasons}
    want["rejected_empty"] += expected["vector_empty"]
    want["rejected_wrong_length"] += expected["vector_wrong_length"]
    want["rejected_non_finite"] = expected["non_finite"] + expected["vector_non_finite"]
    want["rejected_out_of_range"] = expected["out_of_range"] + expected["vector_out_of_range"]
    want["accepted_joint_state"] = expected["valid"] + expected["unknown_joint"]
    want["accepted_vector"] = expected["vector_valid"]
    want["unknown_joint_messages"] = expected["unknown_joint"]
    assert {k: delta[k] for k in want} == want
    assert proc.alive(), proc.log()

    efforts = np.array([list(m.effort) for m in commands])
    assert len(efforts) > 100 and np.isfinite(efforts).all()
    assert (efforts[:, 0] >= -1.5).all() and (efforts[:, 0] <= 1.5).all()
    assert (efforts[:, 1] >= -0.5).all() and (efforts[:, 1] <= 0.25).all()
    assert int(d["clipped"]) > 0  # large valid inputs do drive the policy to its limits


# --------------------------------------------------------- timer mode: watchdog, e-stop, SIGTERM


@pytest.fixture(scope="module")
def timer_node(tmp, probe):
    bundle = make_policy_bundle(tmp, cell="lstm", obs_dim=3, act_dim=1, name="timer", control_period=0.02)
    params = {
        "bundle": bundle,
        "autostart": True,
        "fade_in": 0.0,
        "watchdog_periods": 5.0,
        "diagnostics_period": 0.1,
        "cpu_affinity": [0],
        "realtime_priority": 1,
        # the timer-mode tests run on the EventsExecutor where rclpy has it, the others on the default
        "executor": "auto",
    }
    proc = NodeProcess("policy_node", params, tmp, namespace="/tmr")
    pub = probe.node.create_publisher(Float64MultiArray, "/tmr/observation", 10)
    estop = probe.node.create_publisher(Bool, "/tmr/estop", RELIABLE)
    commands = probe.collect(Float64MultiArray, "/tmr/command", RELIABLE)
    _wait_connected(probe, pub, "/tmr/command", proc)
    probe.spin_until(lambda: estop.get_subscription_count() > 0, 10, "e-stop subscription")
    yield proc, pub, estop, commands


def _feed(probe: Probe, pub, seconds: float, rate: float = 100.0, constant: bool = False) -> None:
    """Publish observations at ``rate`` (the first value a sine, or 0.3 if ``constant``)."""
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        pub.publish(_vec([0.3 if constant else math.sin(0.3 * k), 0.5, -0.2]))
        k += 1
        probe.spin_for(1.0 / rate)


def _values(commands, last: int) -> np.ndarray:
    return np.array([m.data[0] for m in commands[-last:]])


def test_watchdog_latches_the_safe_command_and_recovers_on_fresh_data(timer_node, probe):
    _proc, pub, _, commands = timer_node
    _feed(probe, pub, 0.6)
    assert (np.abs(_values(commands, 10)) > 1e-6).all(), "policy commands expected while sensors are fresh"
    trips = int(probe.diag("/tmr/policy_node")["watchdog_trips"])
    probe.spin_for(0.5)  # sensors silent for 25 control periods (watchdog: 5)
    assert (_values(commands, 10) == 0.0).all(), "safe command expected once the sensor is stale"
    probe.spin_for(0.3)
    d = probe.diag("/tmr/policy_node")
    assert int(d["watchdog_trips"]) == trips + 1 and d["watchdog_latched"] == "True"
    _feed(probe, pub, 0.5)
    assert (np.abs(_values(commands, 10)) > 1e-6).all(), "control should resume on fresh data"
    assert probe.diag("/tmr/policy_node")["watchdog_latched"] == "False"


def test_estop_latches_until_reset(timer_node, probe):
    _proc, pub, estop, commands = timer_node
    _feed(probe, pub, 0.3)
    estop.publish(Bool(data=True))
    _feed(probe, pub, 0.3)
    assert (_values(commands, 10) == 0.0).all()
    estop.publish(Bool(data=False))  # releasing the button does not release the latch
    _feed(probe, pub, 0.3)
    assert (_values(commands, 10) == 0.0).all()
    assert probe.diag("/tmr/policy_node")["estop_latched"] == "True"
    assert probe.level("/tmr/policy_node") == 2  # ERROR
    assert "e-stop released" in probe.call(Trigger, "/tmr/policy_node/reset").message
    _feed(probe, pub, 0.4)
    assert (np.abs(_values(commands, 10)) > 1e-6).all()


def test_cpu_affinity_and_realtime_priority_apply_to_every_thread(timer_node, probe):
    proc, pub, _, _ = timer_node
    _feed(probe, pub, 0.3)
    pid = proc.proc.pid
    threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    assert len(threads) > 1  # DDS threads too, not only the Python one
    assert all(os.sched_getaffinity(t) == {0} for t in threads)
    d = probe.diag("/tmr/policy_node")
    assert d["cpus"] == "0"
    if os.sched_getscheduler(pid) == os.SCHED_FIFO:  # allowed here (root or CAP_SYS_NICE)
        assert all(os.sched_getscheduler(t) == os.SCHED_FIFO for t in threads)
        assert d["scheduler"] == "SCHED_FIFO 1"
    else:  # not allowed: a warning saying what to grant, and the node runs on
        assert d["scheduler"] == "SCHED_OTHER"
        assert "realtime_priority 1 (SCHED_FIFO) not applied" in proc.log()
    executor = "EventsExecutor" if events_executor_available() else "SingleThreadedExecutor"
    assert f"spinning with {executor}" in proc.log()  # executor: auto


def test_realtime_settings_report_what_cannot_be_done():
    problems = apply_realtime_settings([10_000], 0)  # no such CPU: nothing is changed
    assert len(problems) == 1 and "this machine has CPUs" in problems[0]
    assert os.sched_getaffinity(0) != {10_000}


def test_sigterm_publishes_the_safe_command_before_exit(timer_node, probe):
    proc, pub, _, commands = timer_node
    _feed(probe, pub, 0.3)
    assert abs(commands[-1].data[0]) > 1e-6
    proc.proc.send_signal(signal.SIGTERM)
    end = time.monotonic() + 10
    while proc.alive() and time.monotonic() < end:
        pub.publish(_vec([0.1, 0.5, -0.2]))
        probe.spin_for(0.01)
    probe.spin_for(0.3)
    assert proc.stop() == 0
    assert commands[-1].data[0] == 0.0, "the last command must be the safe one"
    assert "SIGTERM: safe command published before exit" in proc.log()


# --------------------------------------------- lifecycle over its services, refusal, SIGINT


def _change(probe: Probe, ns: str, transition: int) -> bool:
    return probe.call(
        ChangeState,
        f"{ns}/policy_node/change_state",
        ChangeState.Request(transition=Transition(id=transition)),
    ).success


def _state(probe: Probe, ns: str) -> str:
    return probe.call(GetState, f"{ns}/policy_node/get_state").current_state.label


def test_lifecycle_over_services_refusal_then_activate_deactivate_and_sigint(tmp, probe):
    bundle = make_policy_bundle(tmp, cell="rnn", obs_dim=3, act_dim=1, name="managed")
    proc = NodeProcess(
        "policy_node",
        {"bundle": str(tmp / "missing.onnx"), "fade_in": 0.2, "control_period": 0.01},
        tmp,
        namespace="/lc",
    )
    pub = probe.node.create_publisher(Float64MultiArray, "/lc/observation", 10)
    commands = probe.collect(Float64MultiArray, "/lc/command", RELIABLE)
    try:
        assert _state(probe, "/lc") == "unconfigured"
        assert not _change(probe, "/lc", Transition.TRANSITION_CONFIGURE)
        assert _state(probe, "/lc") == "unconfigured"
        assert f"configure refused: bundle '{tmp / 'missing.onnx'}' does not exist" in proc.log()

        value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=str(bundle))
        req = SetParameters.Request(parameters=[ParameterMsg(name="bundle", value=value)])
        assert probe.call(SetParameters, "/lc/policy_node/set_parameters", req).results[0].successful
        assert _change(probe, "/lc", Transition.TRANSITION_CONFIGURE)
        assert _state(probe, "/lc") == "inactive"
        probe.spin_until(lambda: probe.node.count_publishers("/lc/command") > 0, 10, "command publisher")
        probe.spin_for(0.3)
        _feed(probe, pub, 0.2)
        assert not commands, "an inactive node must not command"

        start = len(commands)
        assert _change(probe, "/lc", Transition.TRANSITION_ACTIVATE)
        # a constant input: the policy's own output settles, so only the fade-in shapes the ramp
        # (with the sine, the last quarter could catch the output crossing zero)
        _feed(probe, pub, 0.6, constant=True)
        ramp = np.abs([m.data[0] for m in commands[start:]])
        assert ramp[0] == 0.0 and ramp[-1] > 1e-6
        early, late = ramp[: len(ramp) // 8].mean(), ramp[-len(ramp) // 4 :].mean()
        assert early < late, "fade-in starts from the safe command"

        assert _change(probe, "/lc", Transition.TRANSITION_DEACTIVATE)
        probe.spin_for(0.2)
        assert commands[-1].data[0] == 0.0 and _state(probe, "/lc") == "inactive"

        assert _change(probe, "/lc", Transition.TRANSITION_ACTIVATE)
        _feed(probe, pub, 0.7)
        assert abs(commands[-1].data[0]) > 1e-6
        proc.proc.send_signal(signal.SIGINT)
        probe.spin_until(lambda: not proc.alive(), 10, "exit on SIGINT")
        probe.spin_for(0.3)
        assert commands[-1].data[0] == 0.0
        assert "SIGINT: safe command published before exit" in proc.log()
    finally:
        assert proc.stop() == 0, proc.log()
