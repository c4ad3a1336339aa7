"""The policy node's safety behaviours at node level: a real node process over DDS, driven and
watched by an in-test rclpy node (README, "Safety, in the node").

- slew limit: ``|delta u| <= max_rate * dt`` on every published command, the first after each
  activation included (fade_in 0), and the commands equal a runtime replay;
- the watchdog with several sensor groups in event mode: one group silent while the others flow,
  then every group silent (the watchdog timer), the state reset on recovery and the fade back in;
  the same node checks the Imu, Odometry and Twist inputs and the Twist output;
- the NaN/inf guard on the model's output and on its hidden state;
- the e-stop in event mode and while inactive, ``~/reset`` only while configured, and exactly
  one (safe) command after deactivate.

No timing races: every wait is a ``spin_until`` on received messages; a latch is read only from a
diagnostics message stamped after the change it is about, and then *every* command after it is
checked; sensors and commands are reliable wherever values are compared exactly; watchdogs not
under test are 10^4 periods long.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

pytest.importorskip("rclpy")

import rclpy
from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger

from rnn_control.contract import ActionField, ObservationField
from rnn_control.ros.codecs import time_msg
from rnn_control.ros.common import qos_profile
from rnn_control.runtime import Controller, Stepper
from tests.bundles import TinyPolicy, make_policy_bundle, policy_metadata
from tests.ros_support import DiagnosticsLog, NodeProcess, Probe, wait_inputs_matched

pytestmark = [pytest.mark.ros, pytest.mark.timeout(180)]
RELIABLE = qos_profile("reliable", 1000)
QUIET = 10_000.0  # watchdog_periods for nodes whose test is not about the watchdog


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("ros_safety")


@pytest.fixture(scope="module")
def probe():
    rclpy.init()
    p = Probe("safety_probe")
    yield p
    p.close()
    rclpy.try_shutdown()


def _timed(probe: Probe, msg_type: type, topic: str) -> tuple[list, list[float]]:
    """Subscribe (reliable); returns the message list and the list of their arrival times."""
    received: list = []
    times: list[float] = []

    def on(msg) -> None:
        received.append(msg)
        times.append(time.monotonic())

    probe.node.create_subscription(msg_type, topic, on, RELIABLE)
    return received, times


def _change(probe: Probe, ns: str, transition: int) -> bool:
    request = ChangeState.Request(transition=Transition(id=transition))
    return probe.call(ChangeState, f"{ns}/policy_node/change_state", request).success


def _state(probe: Probe, ns: str) -> str:
    return probe.call(GetState, f"{ns}/policy_node/get_state").current_state.label


def _services(probe: Probe, ns: str) -> set[str]:
    names = probe.node.get_service_names_and_types_by_node("policy_node", ns)
    return {name for name, _types in names}


def _stop(proc: NodeProcess) -> None:
    assert proc.stop() == 0, proc.log()


# --------------------------------------------------------------------------------------- slew limit

SLEW_OBS = [
    ObservationField("a_q", "joint_state/position/a"),
    ObservationField("b_q", "joint_state/position/b"),
    ObservationField("a_dq", "joint_state/velocity/a"),
]
MAX_RATE = np.array([3.0, 1.5])
SLEW_SAFE = np.array([0.0, 0.5])
SLEW_ACT = [
    ActionField("u0", "vector/0", -2.0, 2.0, max_rate=float(MAX_RATE[0])),
    ActionField("u1", "vector/1", -2.0, 2.0, safe=float(SLEW_SAFE[1]), max_rate=float(MAX_RATE[1])),
]


def test_slew_limit_bounds_every_command_from_the_first_after_each_activation(tmp, probe):
    """Event mode on stamped JointStates: dt is the stamp difference (the first step after an
    activation: the control period), so the test knows the dt of every step. fade_in 0: nothing but
    the slew limit keeps the first policy command near the safe command the activation sent."""
    period = 0.02
    bundle = make_policy_bundle(tmp, obs_dim=3, act_dim=2, observation=SLEW_OBS, action=SLEW_ACT,
                                name="slew", seed=4, control_period=period)  # fmt: skip
    ns = "/slew"
    params = {"bundle": bundle, "mode": "event", "fade_in": 0.0, "watchdog_periods": QUIET,
              "sensor_qos": "reliable", "sensor_qos_depth": 1000}  # fmt: skip
    proc = NodeProcess("policy_node", params, tmp, namespace=ns)
    pub = probe.node.create_publisher(JointState, f"{ns}/joint_states", RELIABLE)
    commands = probe.collect(Float64MultiArray, f"{ns}/command", RELIABLE)
    rng = np.random.default_rng(3)
    stamp = [time.time_ns() - 10 * 10**9]  # in the past: never "future", always increasing
    try:
        assert _state(probe, ns) == "unconfigured"
        assert _change(probe, ns, Transition.TRANSITION_CONFIGURE), proc.log()

        def connected() -> bool:
            assert proc.alive(), proc.log()
            return pub.get_subscription_count() > 0 and probe.node.count_publishers(f"{ns}/command") > 0

        probe.spin_until(connected, 20, "the node to connect")
        wait_inputs_matched(probe, f"{ns}/policy_node", ("joint_state",))
        ref = Controller.load(bundle)
        for activation in range(2):
            start = len(commands)
            assert _change(probe, ns, Transition.TRANSITION_ACTIVATE)
            probe.spin_until(lambda s=start: len(commands) > s, 5, "the activation's safe command")
            sent, dts = [], []
            for k in range(40):
                dt_ns = int(rng.integers(2, 30)) * 1_000_000
                stamp[0] += dt_ns
                q, dq = rng.uniform(-3.0, 3.0, 2), float(rng.uniform(-4.0, 4.0))
                msg = JointState(name=["a", "b"], position=q.tolist(), velocity=[dq, 0.0])
                msg.header.stamp = time_msg(stamp[0])
                pub.publish(msg)
                sent.append([q[0], q[1], dq])
                dts.append(period if k == 0 else dt_ns * 1e-9)
                probe.spin_until(lambda n=start + k + 2: len(commands) >= n, 5, f"command {k}")
            assert _change(probe, ns, Transition.TRANSITION_DEACTIVATE)
            probe.spin_until(lambda s=start: len(commands) >= s + 42, 5, "the deactivation's safe command")
            probe.spin_for(0.2)
            segment = np.array([list(m.data) for m in commands[start:]])
            assert len(segment) == 42, f"activation {activation}: {len(segment)} commands, expected 42"
            np.testing.assert_array_equal(segment[0], SLEW_SAFE)  # activation
            np.testing.assert_array_equal(segment[-1], SLEW_SAFE)  # deactivation
            policy = segment[1:-1]
            steps = np.abs(np.diff(segment[:-1], axis=0))  # safe -> first command included
            bound = MAX_RATE * np.array(dts)[:, None]
            over = np.argwhere(steps > bound + 1e-9)
            assert not len(over), f"activation {activation}: slew limit exceeded at (step, entry) {over[:5]}"
            assert (steps >= bound - 1e-9).sum() >= 10, "the limit must be active (random, jumpy inputs)"
            # the same commands as the runtime replaying the steps, its filter starting at the safe command
            ref.reset()
            ref.safety.reset(ref.safe_command())
            expected = np.array([ref.step(o, dt) for o, dt in zip(sent, dts)])
            np.testing.assert_allclose(policy, expected, rtol=0, atol=1e-6)
            # ... where an unlimited first step would have jumped further than the limit allows
            free = Controller.load(bundle)
            assert (np.abs(free.step(sent[0], period) - SLEW_SAFE) > MAX_RATE * period).any()
    finally:
        _stop(proc)


# ------------------------------------- watchdog with several sensor groups; Imu/Odometry/Twist in, Twist out

W_OBS = [
    ObservationField("trigger", "vector/0"),
    ObservationField("gyro_z", "imu/angular_velocity/z"),
    ObservationField("acc_x", "imu/linear_acceleration/x"),
    ObservationField("quat_w", "imu/orientation/w"),
    ObservationField("odom_x", "odometry/pose/position/x"),
    ObservationField("odom_qz", "odometry/pose/orientation/z"),
    ObservationField("odom_vx", "odometry/twist/linear/x"),
    ObservationField("odom_wz", "odometry/twist/angular/z"),
    ObservationField("cmd_vx", "twist/linear/x"),
    ObservationField("cmd_wz", "twist/angular/z"),
]
W_SAFE = np.array([0.0, 0.4])
W_LOW, W_HIGH = -1.0, 1.5
W_ACT = [
    ActionField("vx", "twist/linear/x", W_LOW, W_HIGH, safe=float(W_SAFE[0])),
    ActionField("wz", "twist/angular/z", W_LOW, W_HIGH, safe=float(W_SAFE[1])),
]
W_FADE = 0.4  # s
W_WATCHDOG = 50  # periods of 20 ms: 1 s (the 1 s fade-back check must outlast a host stall)
SLICES = {"vector": slice(0, 1), "imu": slice(1, 4), "odometry": slice(4, 8), "twist": slice(8, 10)}


def _sensor_messages(rng: np.random.Generator) -> tuple[dict, dict[str, np.ndarray]]:
    """One message per group with random values, and the values the bundle reads from each."""
    v = rng.uniform(-1.0, 1.0, 10)
    now = time_msg(time.time_ns())
    imu = Imu()
    imu.header.stamp = now
    imu.angular_velocity.z, imu.linear_acceleration.x, imu.orientation.w = v[1], v[2], v[3]
    odom = Odometry()
    odom.header.stamp = now
    odom.pose.pose.position.x, odom.pose.pose.orientation.z = v[4], v[5]
    odom.twist.twist.linear.x, odom.twist.twist.angular.z = v[6], v[7]
    twist = Twist()
    twist.linear.x, twist.angular.z = v[8], v[9]
    msgs = {"vector": Float64MultiArray(data=[float(v[0])]), "imu": imu, "odometry": odom, "twist": twist}
    return msgs, {g: v[s] for g, s in SLICES.items()}


def test_watchdog_with_several_sensor_groups_and_imu_odometry_twist_io(tmp, probe):
    period = 0.02
    bundle = make_policy_bundle(tmp, obs_dim=len(W_OBS), act_dim=2, observation=W_OBS, action=W_ACT,
                                name="groups", seed=2, control_period=period)  # fmt: skip
    ns = "/groups"
    params = {"bundle": bundle, "autostart": True, "mode": "event", "trigger": "vector",
              "fade_in": W_FADE, "watchdog_periods": float(W_WATCHDOG), "command_type": "twist",
              "sensor_qos": "reliable", "sensor_qos_depth": 100, "publish_debug": True,
              "diagnostics_period": 0.05}  # fmt: skip
    topics = {"vector": "observation", "imu": "imu", "odometry": "odom", "twist": "cmd_vel"}
    types = {"vector": Float64MultiArray, "imu": Imu, "odometry": Odometry, "twist": Twist}
    proc = NodeProcess("policy_node", params, tmp, namespace=ns)
    pubs = {g: probe.node.create_publisher(types[g], f"{ns}/{topics[g]}", RELIABLE) for g in topics}
    diag = DiagnosticsLog(probe)
    commands, arrivals = _timed(probe, Twist, f"{ns}/command")
    observed = probe.collect(Float64MultiArray, f"{ns}/policy_node/observation", RELIABLE)
    raw = probe.collect(Float64MultiArray, f"{ns}/policy_node/raw_action", RELIABLE)
    name = f"{ns}/policy_node"
    rng = np.random.default_rng(8)
    trigger_times: list[float] = []
    sent: list[dict[str, np.ndarray]] = []

    def step(groups=tuple(topics), pace: float = 0.0) -> None:
        """One message of every group in ``groups`` (the trigger last); wait for its command."""
        t0 = time.monotonic()
        msgs, values = _sensor_messages(rng)
        for g in groups:
            if g != "vector":
                pubs[g].publish(msgs[g])
        probe.spin_for(0.005)  # the other groups first, so the trigger finds them
        if "vector" in groups:
            n = len(commands)
            trigger_times.append(time.monotonic())
            pubs["vector"].publish(msgs["vector"])
            sent.append(values)
            probe.spin_until(lambda: len(commands) > n, 5, "a command for the trigger")
        probe.spin_for(max(0.0, pace - (time.monotonic() - t0)))

    def vecs(msgs) -> np.ndarray:
        return np.array([[m.linear.x, m.angular.z] for m in msgs]).reshape(-1, 2)

    def cleared() -> None:
        probe.spin_for(0.15)  # drain what is in flight
        for lst in (commands, arrivals, observed, raw, trigger_times, sent):
            lst.clear()

    try:

        def connected() -> bool:
            assert proc.alive(), proc.log()
            subscribed = all(p.get_subscription_count() > 0 for p in pubs.values())
            return subscribed and all(
                probe.node.count_publishers(t) > 0
                for t in (f"{ns}/command", f"{name}/observation", f"{name}/raw_action")
            )

        def faded_in() -> bool:
            """One step; whether its command is the clipped policy output (the fade-in is over)."""
            n_raw = len(raw)
            step()
            probe.spin_until(lambda: len(raw) > n_raw, 5, "the raw action")
            return np.array_equal(vecs(commands[-1:])[0], np.clip(raw[-1].data, W_LOW, W_HIGH))

        probe.spin_until(connected, 20, "the node to connect")
        wait_inputs_matched(probe, name, tuple(topics))
        for _ in range(10):  # every group delivers: the node runs
            step()
        # the node fades in over W_FADE from its activation, which on a loaded machine can come
        # later than its topics: step until the fade is over (CI once saw the window start in it)
        probe.spin_until(faded_in, 10, "the fade-in to end")
        # --- every input kind lands in its observation slot; the Twist carries clip(output) ---------
        cleared()
        for _ in range(30):
            step()
        probe.spin_until(lambda: len(observed) >= 30 and len(raw) >= 30, 5, "the debug topics")
        probe.spin_for(0.1)
        assert len(commands) == len(observed) == len(raw) == 30
        for k, (obs_msg, values) in enumerate(zip(observed, sent)):
            obs = np.array(obs_msg.data)
            assert np.array_equal(obs[SLICES["vector"]], values["vector"]), k  # the trigger itself
            for g in ("imu", "odometry", "twist"):  # this step's message or (in flight) the previous one
                candidates = [values[g]] + ([sent[k - 1][g]] if k else [])
                assert any(np.array_equal(obs[SLICES[g]], c) for c in candidates), (k, g, obs, candidates)
        policy = np.clip(np.array([list(r.data) for r in raw]), W_LOW, W_HIGH)
        np.testing.assert_array_equal(vecs(commands), policy)
        assert all(m.linear.y == m.linear.z == m.angular.x == m.angular.y == 0.0 for m in commands)
        assert (np.abs(policy - W_SAFE) > 1e-3).all(axis=1).mean() > 0.5  # not the safe command

        # --- the Imu goes silent while the others flow: the safe command, latched -----------------------
        t = time.time_ns()
        _, _, before = diag.wait(probe, name, t, what="a status while every group is fresh")
        assert before["watchdog_latched"] == "False", before
        t_silent = time.time_ns()
        since, since_observed = len(commands), len(observed)
        end = time.monotonic() + 5
        while diag.after(name, t_silent, lambda v: v["watchdog_latched"] == "True") is None:
            assert time.monotonic() < end, "the watchdog did not trip with the Imu silent"
            step(("vector", "odometry", "twist"))
        t_latched = time.time_ns()
        for _ in range(15):
            step(("vector", "odometry", "twist"))
        probe.spin_for(0.1)
        # policy commands until the Imu went stale, then (from the trip on) only the safe command
        tail = vecs(commands[since:])
        safe = (tail == W_SAFE).all(axis=1)
        first = int(np.argmax(safe))
        assert safe[first] and safe[first:].all() and len(tail) - first >= 15, tail
        assert len(observed) - since_observed == first, "a policy step for every policy command, none after"
        level, message, values = diag.wait(probe, name, t_latched)
        assert values["watchdog_latched"] == "True" and level == 1 and message.startswith("watchdog")
        assert int(values["watchdog_trips"]) == int(before["watchdog_trips"]) + 1
        assert "watchdog: no fresh imu data; safe command latched" in proc.log()

        # --- the Imu is back: the state is reset and the commands fade back in ------------------------
        cleared()
        t_back = time.monotonic()  # the watchdog releases after this, when the first Imu arrives
        for _ in range(50):
            step(pace=0.02)
        probe.spin_for(0.2)
        n = len(raw)
        assert n == len(observed) and n >= 45, (n, len(observed), len(commands))
        assert (vecs(commands[:-n]) == W_SAFE).all()  # still latched before
        # the recurrent state was reset: a fresh runtime stepping the same observations agrees
        fresh = Stepper.load(bundle)
        outputs = np.array([list(r.data) for r in raw])
        expected = np.array([fresh.step(np.array(o.data)).copy() for o in observed])
        np.testing.assert_allclose(outputs, expected, rtol=0, atol=1e-6)
        # fade-in: u = safe + alpha (clip(output) - safe), alpha = (t - t_release) / fade_in
        target = np.clip(outputs, W_LOW, W_HIGH)
        got = vecs(commands[-n:])
        j = np.argmax(np.abs(target - W_SAFE), axis=1)  # the component that tells alpha best
        rows = np.arange(n)
        assert (np.abs(target - W_SAFE)[rows, j] > 0.05).all()
        alpha = (got - W_SAFE)[rows, j] / (target - W_SAFE)[rows, j]
        assert (np.diff(alpha) >= -1e-9).all(), alpha
        assert alpha[0] <= (arrivals[-n] - t_back) / W_FADE + 1e-6, "the ramp starts at the release"
        assert (np.abs(got[-10:] - target[-10:]) <= 1e-12).all(), "fully faded in after fade_in"
        sent_t = np.array(trigger_times[-n:])  # tick k ran after its trigger was sent ...
        recv_t = np.array(arrivals[-n:])  # ... and before its command arrived
        ramp = alpha < 1.0
        assert ramp.sum() >= 5, "the ramp spans several steps"
        low = np.minimum(1.0, alpha[0] + (sent_t - recv_t[0]) / W_FADE)
        high = np.minimum(1.0, alpha[0] + (recv_t - sent_t[0]) / W_FADE)
        assert (alpha >= low - 1e-6).all() and (alpha <= high + 1e-6).all(), (
            "the fade-in is not linear over fade_in seconds",
            alpha,
            low,
            high,
        )

        # --- every group silent, the trigger too: the event-mode watchdog timer holds the safe command ---
        t_quiet = time.time_ns()
        diag.wait(probe, name, t_quiet, lambda v: v["watchdog_latched"] == "True", "the watchdog timer trip")
        since = len(commands)  # the timer runs every 250 ms (timeout / 4): three of its commands
        probe.spin_until(lambda: len(commands) - since >= 3, 10, "three commands from the watchdog timer")
        tail = vecs(commands[since:])
        assert (tail == W_SAFE).all(), tail
        _, _, values = diag.wait(probe, name, time.time_ns())
        assert int(values["watchdog_trips"]) == int(before["watchdog_trips"]) + 2
    finally:
        _stop(proc)


# ------------------------------------------------------------------- NaN in the output / the hidden state


class FaultyPolicy(TinyPolicy):
    """TinyPolicy whose output is NaN when ``obs[0] > 10`` and whose new hidden state is NaN (the
    output staying finite) when ``obs[1] > 10``."""

    def act_inference(self, obs, state, dt=None):
        action, new_state = super().act_inference(obs, state, dt)
        action = torch.where(obs[:, :1] > 10.0, torch.full_like(action, float("nan")), action)
        h = new_state[0]
        h = torch.where(obs[:, 1:2].view(1, 1, 1) > 10.0, torch.full_like(h, float("nan")), h)
        return action, (h, *new_state[1:])


def test_nan_in_the_models_output_or_hidden_state_gives_the_safe_command_and_a_reset(tmp, probe):
    from rnn_control.export.onnx_graph import export_graph

    model = FaultyPolicy(obs_dim=3, act_dim=1, hidden=16, cell="gru", seed=5).eval()
    safe = 0.25
    meta = policy_metadata(
        "gru", 3, 1, 16, 1, 0.02, action=[ActionField("u", "vector/0", -2.0, 2.0, safe=safe)]
    )
    bundle = export_graph(model, meta, tmp / "faulty.onnx")
    ns = "/nan"
    params = {"bundle": bundle, "autostart": True, "mode": "event", "fade_in": 0.0, "watchdog_periods": QUIET,
              "sensor_qos": "reliable", "sensor_qos_depth": 100, "diagnostics_period": 0.05}  # fmt: skip
    proc = NodeProcess("policy_node", params, tmp, namespace=ns)
    pub = probe.node.create_publisher(Float64MultiArray, f"{ns}/observation", RELIABLE)
    commands = probe.collect(Float64MultiArray, f"{ns}/command", RELIABLE)
    diag = DiagnosticsLog(probe)
    rng = np.random.default_rng(6)
    try:

        def connected() -> bool:
            assert proc.alive(), proc.log()
            return pub.get_subscription_count() > 0 and probe.node.count_publishers(f"{ns}/command") > 0

        probe.spin_until(connected, 20, "the node to connect")
        wait_inputs_matched(probe, f"{ns}/policy_node", ("vector",))
        commands.clear()  # the activation's safe command, if it was heard

        def run(observations) -> np.ndarray:
            start = len(commands)
            for k, obs in enumerate(observations):
                pub.publish(Float64MultiArray(data=[float(x) for x in obs]))
                probe.spin_until(lambda n=start + k + 1: len(commands) >= n, 5, f"command {k}")
            return np.array([m.data[0] for m in commands[start:]])

        normal = [rng.normal(size=(8, 3)) for _ in range(3)]
        ref = Controller.load(bundle)
        np.testing.assert_allclose(run(normal[0]), [ref.step(o)[0] for o in normal[0]], atol=1e-6)
        for fault, bad_obs in (
            ("non_finite_output", [20.0, 0.1, 0.1]),
            ("non_finite_state", [0.1, 20.0, 0.1]),
        ):
            t = time.time_ns()
            _, _, before = diag.wait(probe, f"{ns}/policy_node", t)
            assert run([bad_obs])[0] == safe, fault  # exactly the safe command
            after = run(normal[1])  # from a zeroed state: a fresh runtime gives the same commands
            fresh = Controller.load(bundle)
            np.testing.assert_allclose(after, [fresh.step(o)[0] for o in normal[1]], atol=1e-6)
            continued = Controller.load(bundle)
            for o in [*normal[0], *normal[1]]:
                continued.step(o)
            assert not np.allclose(after, [continued.step(o)[0] for o in normal[1]], atol=1e-4)
            _, _, values = diag.wait(probe, f"{ns}/policy_node", time.time_ns())
            assert int(values[fault]) == int(before[fault]) + 1, (fault, before, values)
            assert int(values["state_resets"]) == int(before["state_resets"]) + 1
            normal = normal[1:] + normal[:1]
        assert proc.alive()
    finally:
        _stop(proc)


# ---------------------------------------------- e-stop in event mode and while inactive; ~/reset; deactivate


def test_estop_while_inactive_and_in_event_mode_reset_only_when_configured_deactivate_exact(tmp, probe):
    safe = 0.3
    action = [ActionField("u", "vector/0", -2.0, 2.0, safe=safe)]
    bundle = make_policy_bundle(tmp, obs_dim=3, act_dim=1, action=action, name="estop", seed=9)
    ns = "/estop"
    name = f"{ns}/policy_node"
    params = {"bundle": bundle, "mode": "event", "fade_in": 0.2, "watchdog_periods": QUIET,
              "sensor_qos": "reliable", "sensor_qos_depth": 100, "diagnostics_period": 0.05}  # fmt: skip
    proc = NodeProcess("policy_node", params, tmp, namespace=ns)
    pub = probe.node.create_publisher(Float64MultiArray, f"{ns}/observation", RELIABLE)
    estop = probe.node.create_publisher(Bool, f"{ns}/estop", RELIABLE)
    commands = probe.collect(Float64MultiArray, f"{ns}/command", RELIABLE)
    diag = DiagnosticsLog(probe)
    rng = np.random.default_rng(10)

    def feed(n: int, wait: bool = True) -> list:
        """``n`` observations 10 ms apart; ``wait``: each one's command arrives before the next."""
        sent = []
        for _ in range(n):
            obs = rng.normal(size=3)
            start = len(commands)
            pub.publish(Float64MultiArray(data=obs.tolist()))
            sent.append(obs)
            if wait:
                probe.spin_until(lambda s=start: len(commands) > s, 5, "a command")
            probe.spin_for(0.01)
        return sent

    def values_of(start: int) -> np.ndarray:
        return np.array([m.data[0] for m in commands[start:]])

    try:
        # --- unconfigured: no ~/reset to call (the lifecycle services are up) ---------------------------
        assert _state(probe, ns) == "unconfigured"
        probe.spin_until(lambda: f"{name}/change_state" in _services(probe, ns), 10, "the lifecycle services")
        assert f"{name}/reset" not in _services(probe, ns)
        assert _change(probe, ns, Transition.TRANSITION_CONFIGURE), proc.log()
        probe.spin_until(lambda: f"{name}/reset" in _services(probe, ns), 10, "~/reset once configured")
        response = probe.call(Trigger, f"{name}/reset")  # configured, inactive: it answers
        assert response.success and response.message == "recurrent state reset", response.message
        probe.spin_until(
            lambda: pub.get_subscription_count() > 0 and estop.get_subscription_count() > 0
            and probe.node.count_publishers(f"{ns}/command") > 0, 10, "the node's topics",
        )  # fmt: skip
        wait_inputs_matched(probe, name, ("vector", "estop"))

        # --- e-stop while inactive: latched, and nothing is commanded -----------------------------------
        t = time.time_ns()
        estop.publish(Bool(data=True))
        level, _, values = diag.wait(probe, name, t, lambda v: v["estop_latched"] == "True", "the latch")
        assert level == 2 and values["active"] == "False" and int(values["estop_events"]) == 1
        feed(20, wait=False)
        probe.spin_for(0.2)
        assert not commands, "an inactive node commands nothing, not even on an e-stop"

        # --- activated: the latch holds across activation; every command is the safe one -----------------
        assert _change(probe, ns, Transition.TRANSITION_ACTIVATE)
        feed(20)
        probe.spin_for(0.2)
        held = values_of(0)
        assert len(held) >= 21 and (held == safe).all(), held  # activation + one per observation

        # --- ~/reset releases it: control fades in from a zeroed state ---------------------------------
        t_request = time.monotonic()  # the reset (the fade-in's start) happens after this (the
        # client exists: the request goes out at once) ...
        response = probe.call(Trigger, f"{name}/reset")
        assert response.success and "e-stop released" in response.message
        start = len(commands)
        sent = feed(1)
        t_first = time.monotonic()  # ... and the first step after it before this
        sent += feed(39)
        ran = values_of(start)
        ref = Controller.load(bundle)
        expected = np.array([ref.step(o)[0] for o in sent])
        assert abs(expected[0] - safe) > 0.05
        alpha = (ran[0] - safe) / (expected[0] - safe)
        assert 0.0 <= alpha <= min(1.0, (t_first - t_request) / 0.2) + 1e-6, alpha  # fading in ...
        np.testing.assert_allclose(ran[-5:], expected[-5:], atol=1e-6)  # ... to the fresh-state policy

        # --- e-stop while active (event mode): after its safe command, nothing but the safe command -------
        start = len(commands)
        t = time.time_ns()
        estop.publish(Bool(data=True))
        feed(10)
        diag.wait(probe, name, t, lambda v: v["estop_latched"] == "True", "the latch")
        feed(20)
        probe.spin_for(0.2)
        tail = values_of(start)
        first = int(np.argmax(tail == safe))
        assert tail[first] == safe and (tail[first:] == safe).all() and len(tail) - first >= 20, tail
        _, _, values = diag.wait(probe, name, time.time_ns())
        assert int(values["estop_events"]) == 2 and values["estop_latched"] == "True"
        assert "e-stop released" in probe.call(Trigger, f"{name}/reset").message
        feed(30)
        assert values_of(len(commands) - 1)[0] != safe

        # --- deactivate while the sensor streams: exactly one command follows, the safe one ---------------
        start = len(commands)
        assert _change(probe, ns, Transition.TRANSITION_DEACTIVATE)
        feed(30, wait=False)
        probe.spin_until(lambda: len(commands) > start, 10, "the deactivation's safe command")
        probe.spin_for(0.3)  # anything that would follow it
        tail = values_of(start)
        assert tail.tolist() == [safe], tail  # every command before it had arrived (feed waited)

        # --- cleaned up: unconfigured again, and ~/reset is gone ----------------------------------------
        assert _change(probe, ns, Transition.TRANSITION_CLEANUP)
        assert _state(probe, ns) == "unconfigured"
        probe.spin_until(lambda: f"{name}/reset" not in _services(probe, ns), 10, "~/reset to go")
    finally:
        _stop(proc)
