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
from rnn_control.ros.codecs import stamp_ns, time_msg
from rnn_control.ros.common import apply_realtime_settings, events_executor_available, qos_profile
from rnn_control.runtime import Controller
from tests.bundles import make_policy_bundle
from tests.ros_support import DiagnosticsLog, NodeProcess, Probe, wait_inputs_matched

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]
RELIABLE = qos_profile("reliable", 1000)
QUIET = 10_000.0  # watchdog_periods where the test is not about the watchdog: a stall cannot trip it


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


def _wait_connected(
    probe: Probe, pub, commands_topic: str, proc: NodeProcess, inputs=("vector",), timeout: float = 20.0
) -> None:
    """Until the node publishes ``commands_topic`` and its ``inputs`` have matched our publishers
    (on the node's side: only then is a first message sure to arrive)."""

    def ok() -> bool:
        assert proc.alive(), f"node exited:\n{proc.log()}"
        return pub.get_subscription_count() > 0 and probe.node.count_publishers(commands_topic) > 0

    probe.spin_until(ok, timeout, "the node to connect")
    wait_inputs_matched(probe, commands_topic.rsplit("/", 1)[0] + "/policy_node", inputs, timeout)


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
            # a 0.1 s watchdog tripped while the test loaded its reference, and its release reset the
            # state: the reset test then passed without the reset service
            "watchdog_periods": QUIET,
            "diagnostics_period": 0.05,
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
    """One command per observation, and nothing else (no watchdog command in between)."""
    commands.clear()
    for k, obs in enumerate(observations):
        pub.publish(_vec(obs))
        probe.spin_until(lambda k=k: len(commands) > k, 5.0, f"command {k}")
    probe.spin_for(0.05)
    assert len(commands) == len(observations), "a command that no observation triggered"
    return np.array([list(m.data) for m in commands])


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
    """Only the service resets the state here: the watchdog (whose release also resets it) is
    10^4 periods long, and the diagnostics confirm it never tripped and count both resets."""
    bundle, _proc, pub, commands = vector_node
    diag = DiagnosticsLog(probe)
    _, _, before = diag.wait(probe, "/vec/policy_node", time.time_ns())
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
    _, _, values = diag.wait(probe, "/vec/policy_node", time.time_ns())
    assert int(values["watchdog_trips"]) == int(before["watchdog_trips"]) == 0
    assert int(values["state_resets"]) == int(before["state_resets"]) + 2


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
    _wait_connected(probe, js_pub, "/jnt/command", proc, inputs=("joint_state", "vector"))
    yield bundle, proc, js_pub, vec_pub, commands
    assert proc.stop() == 0, proc.log()


def _joint_state(names, pos, vel, stamp_ns) -> JointState:
    msg = JointState(name=list(names), position=[float(x) for x in pos], velocity=[float(x) for x in vel])
    msg.header.stamp = time_msg(stamp_ns)
    return msg


def _deliver_vector(probe: Probe, vec_pub, values) -> None:
    """Publish the (non-triggering) vector observation and wait until /jnt's diagnostics count it
    accepted: the vector and the JointStates arrive on different topics, in no set order, and a
    JointState handled first would step without the vector and get the safe command. (That the
    sample is not lost to discovery, the fixture's ``wait_inputs_matched`` sees to.)"""
    diag = DiagnosticsLog(probe)
    _, _, before = diag.wait(probe, "/jnt/policy_node", time.time_ns())
    base = int(before.get("accepted_vector", 0))
    t = time.time_ns()
    vec_pub.publish(_vec(values))
    diag.wait(probe, "/jnt/policy_node", t, lambda v: int(v.get("accepted_vector", 0)) > base,
              "the node to accept the vector observation")  # fmt: skip


def test_joint_states_are_matched_by_name_and_commands_carry_joint_names(joint_node, probe):
    bundle, _proc, js_pub, vec_pub, commands = joint_node
    _deliver_vector(probe, vec_pub, [0.3])
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
    # the counters from a status published after those two messages were handled (not a snapshot
    # that may predate them)
    _, _, base = DiagnosticsLog(probe).wait(probe, "/jnt/policy_node", time.time_ns())
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
# No CPU pinning here (a node pinned to one CPU of a busy 2-core machine misses its ticks); the
# real-time settings get their own node below, which checks no timing. The sensor stream is
# reliable, and the watchdog (15 periods, 0.3 s) is long against the 10 ms feed.


@pytest.fixture(scope="module")
def timer_node(tmp, probe):
    bundle = make_policy_bundle(tmp, cell="lstm", obs_dim=3, act_dim=1, name="timer", control_period=0.02)
    params = {
        "bundle": bundle,
        "autostart": True,
        "fade_in": 0.0,
        # 1 s: a feed that stalls for a scheduling hiccup must not trip it (a 0.3 s watchdog tripped
        # once mid-feed on a clean-clone run, and its release reset the state); the silent phase
        # waits for the trip on the diagnostics, so a longer watchdog only makes that wait longer
        "watchdog_periods": 50.0,
        "diagnostics_period": 0.05,
        "sensor_qos": "reliable",
        "sensor_qos_depth": 10,
        # the timer-mode tests run on the EventsExecutor where rclpy has it, the others on the default
        "executor": "auto",
    }
    proc = NodeProcess("policy_node", params, tmp, namespace="/tmr")
    try:
        pub = probe.node.create_publisher(Float64MultiArray, "/tmr/observation", RELIABLE)
        estop = probe.node.create_publisher(Bool, "/tmr/estop", RELIABLE)
        commands = probe.collect(Float64MultiArray, "/tmr/command", RELIABLE)
        diag = DiagnosticsLog(probe)
        _wait_connected(probe, pub, "/tmr/command", proc, inputs=("vector", "estop"))
        probe.spin_until(lambda: estop.get_subscription_count() > 0, 10, "e-stop subscription")
        yield proc, pub, estop, commands, diag
    finally:  # also when only some of the tests run (-k): no policy_node outlives the module
        assert proc.stop() == 0, proc.log()


def _feed(probe: Probe, pub, seconds: float, rate: float = 100.0, constant: bool = False, until=None) -> None:
    """Publish observations at ``rate`` (the first value a sine, or 0.3 if ``constant``) for
    ``seconds``, or (``until`` given) until ``until()`` holds, at most ``seconds``."""
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        if until is not None and until():
            return
        pub.publish(_vec([0.3 if constant else math.sin(0.3 * k), 0.5, -0.2]))
        k += 1
        probe.spin_for(1.0 / rate)
    assert until is None, "timed out feeding until the condition held"


def _heard(commands: list, start: int, n: int):
    """A condition: ``n`` commands have arrived since index ``start`` (counted, not timed: a
    stalled host once delivered 10 commands in the 0.4 s a 50 Hz node fills with 20)."""
    return lambda: len(commands) - start >= n


def _values(commands, start: int = 0) -> np.ndarray:
    return np.array([m.data[0] for m in commands[start:]])


TMR = "/tmr/policy_node"


def _fresh_status(probe: Probe, pub, diag: DiagnosticsLog, pred=lambda v: True) -> dict:
    """Keep the sensor fed until a status published from now on satisfies ``pred``."""
    t = time.time_ns()
    _feed(probe, pub, 10.0, until=lambda: diag.after(TMR, t, pred) is not None)
    return diag.after(TMR, t, pred)[2]


def test_watchdog_latches_the_safe_command_and_recovers_on_fresh_data(timer_node, probe):
    _proc, pub, _, commands, diag = timer_node
    _feed(probe, pub, 0.3)
    before = _fresh_status(probe, pub, diag)
    assert before["watchdog_latched"] == "False", before
    # the policy in control first: the node's start (the fixture's first use) may still be sending
    # the safe command it sends before any data, and those may arrive after the feed begins
    in_control = lambda: len(commands) >= 5 and (np.abs(_values(commands)[-5:]) > 1e-6).all()  # noqa: E731
    _feed(probe, pub, 10.0, until=in_control)
    start = len(commands)
    _feed(probe, pub, 10.0, until=_heard(commands, start, 10))
    fresh = _values(commands, start)
    assert len(fresh) >= 10 and (np.abs(fresh) > 1e-6).all(), "policy commands while the sensor is fresh"

    t_silent = time.time_ns()  # the sensor goes silent
    diag.wait(probe, TMR, t_silent, lambda v: v["watchdog_latched"] == "True", "the watchdog to trip")
    start = len(commands)
    probe.spin_until(_heard(commands, start, 10), 10, "ten safe commands")
    held = _values(commands, start)
    assert len(held) >= 10 and (held == 0.0).all(), "the safe command on every tick once the sensor is stale"
    _, _, latched = diag.wait(probe, TMR, time.time_ns())
    assert latched["watchdog_latched"] == "True"
    assert int(latched["watchdog_trips"]) == int(before["watchdog_trips"]) + 1

    released = _fresh_status(probe, pub, diag, lambda v: v["watchdog_latched"] == "False")
    start = len(commands)
    _feed(probe, pub, 10.0, until=_heard(commands, start, 10))
    resumed = _values(commands, start)
    assert len(resumed) >= 10 and (np.abs(resumed) > 1e-6).all(), "control resumes on fresh data"
    assert int(released["watchdog_trips"]) == int(before["watchdog_trips"]) + 1


def test_estop_latches_until_reset(timer_node, probe):
    _proc, pub, estop, commands, diag = timer_node
    _feed(probe, pub, 0.3)
    start = len(commands)
    estop.publish(Bool(data=True))
    _fresh_status(probe, pub, diag, lambda v: v["estop_latched"] == "True")
    _feed(probe, pub, 10.0, until=_heard(commands, len(commands), 10))
    estop.publish(Bool(data=False))  # releasing the button does not release the latch
    _feed(probe, pub, 10.0, until=_heard(commands, len(commands), 10))
    after = _values(commands, start)
    first = int(np.argmax(after == 0.0))  # the e-stop's own safe command
    assert after[first] == 0.0 and (np.abs(after[:first]) > 1e-6).all()
    assert len(after) - first >= 20 and (after[first:] == 0.0).all(), "only the safe command after the e-stop"
    level, _, values = diag.wait(probe, TMR, time.time_ns())
    assert values["estop_latched"] == "True" and level == 2  # ERROR
    response = probe.call(Trigger, f"{TMR}/reset")
    assert "e-stop released" in response.message
    start = len(commands)
    # the safe commands still in flight when the reset was answered (and, if the reset came more
    # than a watchdog timeout after the last observation, until the feed is back: a loaded
    # machine once took 0.5 s), then only policy commands
    _feed(probe, pub, 10.0, until=lambda: (_values(commands, start) != 0.0).any())
    moved = start + int(np.argmax(_values(commands, start) != 0.0))
    _feed(probe, pub, 10.0, until=_heard(commands, moved, 15))
    resumed = _values(commands, start)
    moving = int(np.argmax(resumed != 0.0))
    assert (resumed[:moving] == 0.0).all(), resumed
    assert len(resumed) - moving >= 15 and (np.abs(resumed[moving:]) > 1e-6).all(), resumed


@pytest.fixture(scope="module")
def pinned_node(tmp, probe):
    """A node pinned to one CPU at SCHED_FIFO 1 (where allowed): checked for its settings only."""
    cpu = max(os.sched_getaffinity(0))
    bundle = make_policy_bundle(tmp, cell="gru", obs_dim=3, act_dim=1, name="pinned", control_period=0.02)
    params = {"bundle": bundle, "autostart": True, "mode": "event", "watchdog_periods": QUIET,
              "diagnostics_period": 0.1, "cpu_affinity": [cpu], "realtime_priority": 1,
              "executor": "auto"}  # fmt: skip
    proc = NodeProcess("policy_node", params, tmp, namespace="/pin")
    try:
        yield proc, cpu
    finally:
        assert proc.stop() == 0, proc.log()


def test_cpu_affinity_and_realtime_priority_apply_to_every_thread(pinned_node, probe):
    proc, cpu = pinned_node
    diag = DiagnosticsLog(probe)

    def spinning() -> bool:
        assert proc.alive(), proc.log()
        return "spinning with" in proc.log()

    probe.spin_until(spinning, 20, "the node to spin")
    _, _, d = diag.wait(probe, "/pin/policy_node", time.time_ns(), what="the pinned node's status")
    pid = proc.proc.pid
    threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    assert len(threads) > 1  # DDS threads too, not only the Python one
    assert all(os.sched_getaffinity(t) == {cpu} for t in threads)
    assert d["cpus"] == str(cpu)
    if os.sched_getscheduler(pid) == os.SCHED_FIFO:  # allowed here (root or CAP_SYS_NICE)
        assert all(os.sched_getscheduler(t) == os.SCHED_FIFO for t in threads)
        assert d["scheduler"] == "SCHED_FIFO 1"
    else:  # not allowed: a warning saying what to grant, and the node runs on
        assert d["scheduler"] == "SCHED_OTHER"
        assert "realtime_priority 1 (SCHED_FIFO) not applied" in proc.log()
    executor = "EventsExecutor" if events_executor_available() else "SingleThreadedExecutor"
    assert f"spinning with {executor}" in proc.log()  # executor: auto


def test_realtime_settings_report_what_cannot_be_done():
    before = os.sched_getaffinity(0), os.sched_getscheduler(0)
    problems = apply_realtime_settings([10_000], 0)  # no such CPU: nothing is changed
    assert len(problems) == 1 and "this machine has CPUs" in problems[0]
    assert (os.sched_getaffinity(0), os.sched_getscheduler(0)) == before  # this process: untouched


def test_sigterm_publishes_the_safe_command_before_exit(timer_node, probe):
    """The sensor keeps streaming until the process has exited: the safe command can only be the
    exit handler's (the watchdog is not stale), and it is the very last command."""
    proc, pub, _, commands, _ = timer_node
    _feed(probe, pub, 0.3)
    start = len(commands)
    proc.proc.send_signal(signal.SIGTERM)
    end = time.monotonic() + 10
    while proc.alive() and time.monotonic() < end:
        pub.publish(_vec([0.1, 0.5, -0.2]))
        probe.spin_for(0.01)
    probe.spin_for(0.3)
    assert proc.stop() == 0
    tail = _values(commands, start)
    assert len(tail) >= 1 and tail[-1] == 0.0, "the last command must be the safe one"
    assert (np.abs(tail[:-1]) > 1e-6).all(), "policy commands until the signal was handled, then one safe"
    assert "SIGTERM: safe command published before exit" in proc.log()


# --------------------------------------------- lifecycle over its services, refusal, fade-in, SIGINT


def _change(probe: Probe, ns: str, transition: int) -> bool:
    return probe.call(
        ChangeState,
        f"{ns}/policy_node/change_state",
        ChangeState.Request(transition=Transition(id=transition)),
    ).success


def _state(probe: Probe, ns: str) -> str:
    return probe.call(GetState, f"{ns}/policy_node/get_state").current_state.label


def _monotonic_offset_ns() -> int:
    """time.time_ns() - time.monotonic_ns(), to a few microseconds (the node stamps commands with
    the wall clock; its control ticks run on the steady clock, the same CLOCK_MONOTONIC as ours)."""
    best = None
    for _ in range(20):
        a = time.monotonic_ns()
        w = time.time_ns()
        b = time.monotonic_ns()
        if best is None or b - a < best[0]:
            best = (b - a, w - (a + b) // 2)
    return best[1]


LC_SAFE = 0.2
LC_FADE = 0.5


def test_lifecycle_over_services_refusal_then_activate_deactivate_and_sigint(tmp, probe):
    # a joint target: commands go out as JointState, whose header stamp says when each tick ran
    action = [ActionField("u", "joint/j", -2.0, 2.0, safe=LC_SAFE)]
    bundle = make_policy_bundle(tmp, cell="rnn", obs_dim=3, act_dim=1, name="managed", action=action)
    proc = NodeProcess(
        "policy_node",
        {"bundle": str(tmp / "missing.onnx"), "fade_in": LC_FADE, "control_period": 0.01,
         "watchdog_periods": QUIET, "sensor_qos": "reliable", "sensor_qos_depth": 10,
         "command_type": "joint_state", "joint_command_field": "effort"},
        tmp,
        namespace="/lc",
    )  # fmt: skip
    pub = probe.node.create_publisher(Float64MultiArray, "/lc/observation", RELIABLE)
    commands = probe.collect(JointState, "/lc/command", RELIABLE)

    def efforts(start: int = 0) -> np.ndarray:
        return np.array([m.effort[0] for m in commands[start:]])
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
        probe.spin_until(lambda: pub.get_subscription_count() > 0, 10, "sensor subscription")
        wait_inputs_matched(probe, "/lc/policy_node", ("vector",))
        # a constant input: the only observation every tick sees, so the policy's own output is
        # known tick by tick (a runtime replay) and the fade-in can be read off the commands
        _feed(probe, pub, 0.2, constant=True)
        assert not commands, "an inactive node must not command"

        # --- activate: the safe command, then safe + alpha (policy - safe), alpha 0 -> 1 over fade_in ----
        offset = _monotonic_offset_ns()
        t_request = time.monotonic()
        assert _change(probe, "/lc", Transition.TRANSITION_ACTIVATE)  # the client exists: no discovery wait
        t_response = time.monotonic()

        def after_fade() -> int:  # ticks stamped after the fade-in (with the bound used below)
            if not commands:
                return 0
            begin = min(t_response, (stamp_ns(commands[0].header.stamp) - offset) * 1e-9)
            late = [(stamp_ns(m.header.stamp) - offset) * 1e-9 - begin for m in commands[:-1]]
            return sum(t >= LC_FADE + 1e-3 for t in late)

        _feed(probe, pub, 10.0, constant=True, until=lambda: after_fade() >= 5)  # counted: a host may stall
        assert commands[0].effort[0] == LC_SAFE, "activation publishes the safe command first"
        ticks = commands[1:]
        ref = Controller.load(bundle)
        policy = np.array([ref.step([0.3, 0.5, -0.2])[0] for _ in ticks])
        assert (np.abs(policy - LC_SAFE) > 0.05).all(), "pick a bundle whose output stays off the safe value"
        alpha = (efforts(1) - LC_SAFE) / (policy - LC_SAFE)
        stamps = np.array([(stamp_ns(m.header.stamp) - offset) * 1e-9 for m in commands])
        # tick k ran after the previous command was stamped and before its own was; the fade began
        # between the request and the response, and before the activation's safe command was stamped
        begin_max = min(t_response, stamps[0])
        high = np.minimum(1.0, (stamps[1:] - t_request) / LC_FADE) + 2e-3
        low = np.minimum(1.0, (stamps[:-1] - begin_max) / LC_FADE) - 2e-3
        assert (alpha <= high).all() and (alpha >= low).all(), (
            "the fade-in must be linear from the safe command over fade_in seconds",
            np.column_stack([low, alpha, high])[:: max(1, len(alpha) // 20)],
        )
        assert (np.diff(alpha) >= -1e-9).all()
        assert ((stamps[:-1] - begin_max) >= LC_FADE + 1e-3).sum() >= 5, "ticks after the fade-in too"

        # --- deactivate: one safe command, then nothing (count every message after it) ---------------
        start = len(commands)
        assert _change(probe, "/lc", Transition.TRANSITION_DEACTIVATE)
        _feed(probe, pub, 10.0, constant=True, until=_heard(commands, start, 1))
        _feed(probe, pub, 0.3, constant=True)  # anything that would follow it
        tail = efforts(start)
        assert len(tail) >= 1 and tail[-1] == LC_SAFE and (tail == LC_SAFE).sum() == 1, tail
        assert _state(probe, "/lc") == "inactive"

        # --- SIGINT while the sensor streams: the exit handler's safe command is the last one --------
        assert _change(probe, "/lc", Transition.TRANSITION_ACTIVATE)
        _feed(probe, pub, LC_FADE + 0.2)
        start = len(commands)
        proc.proc.send_signal(signal.SIGINT)
        end = time.monotonic() + 10
        while proc.alive() and time.monotonic() < end:
            pub.publish(_vec([0.1, 0.5, -0.2]))
            probe.spin_for(0.01)
        probe.spin_until(lambda: LC_SAFE in efforts(start), 10, "the exit handler's safe command")
        probe.spin_for(0.3)
        tail = efforts(start)
        assert len(tail) >= 1 and tail[-1] == LC_SAFE and (tail == LC_SAFE).sum() == 1, tail
        assert "SIGINT: safe command published before exit" in proc.log()
    finally:
        assert proc.stop() == 0, proc.log()
