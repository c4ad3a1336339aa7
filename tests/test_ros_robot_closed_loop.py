"""Joint-space robots over ROS: the sim bridge publishes JointState (every joint: position,
velocity, effort), Imu and Odometry like a robot's drivers, takes joint commands like a
ros2_control robot, and the policy node closes the loop on them. In lockstep the episode returns
equal the in-process evaluation of the same bundle, per episode."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

import rclpy
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64

from rnn_control.envs import control_period, describe_env, make_env
from rnn_control.envs.bundle_returns import bundle_returns
from rnn_control.export.exporter import ExportOptions, export_checkpoint
from rnn_control.ros.common import qos_profile, result_qos
from rnn_control.runtime import read_bundle_metadata
from rnn_control.scenario import load_scenario
from rnn_control.train.common.checkpoint import save_checkpoint
from tests.bundles import TinyPolicy
from tests.ros_support import NodeProcess, Probe

pytestmark = pytest.mark.ros

EPISODE_STEPS = 60


def robot_bundle(tmp: Path, scenario: str) -> Path:
    """A random-weight policy bundle for a joint-space scenario, laid out as the env declares."""
    sc = load_scenario(scenario, {"env": {"max_episode_steps": EPISODE_STEPS}})
    env = make_env(sc.env, seed=0)
    spaces = describe_env(env)
    obs_dim, act_dim = spaces["observation"]["shape"][0], len(spaces["action"]["low"])
    period = control_period(env)
    env.close()
    kwargs = {"obs_dim": obs_dim, "act_dim": act_dim, "hidden": 16, "cell": "gru", "nominal_dt": period}
    payload = {
        "kind": "policy", "config": sc.to_dict(), "model_class": "TinyPolicy", "model_kwargs": kwargs,
        "model_state": TinyPolicy(**kwargs).state_dict(), "spaces": spaces, "control_period": period,
        "step": 0,
    }  # fmt: skip
    ckpt = save_checkpoint(tmp / f"{scenario}.pt", payload)
    options = ExportOptions(parity_steps=200, simplify=False)
    return export_checkpoint(ckpt, tmp / f"{scenario}.onnx", options).path


@pytest.mark.timeout(240)
@pytest.mark.parametrize("scenario", ["half_cheetah_full", "ant_imu", "arm3_reach"])
def test_robot_closed_loop_in_lockstep_equals_in_process_per_episode(tmp_path, scenario):
    bundle = robot_bundle(tmp_path, scenario)
    meta = read_bundle_metadata(bundle)
    assert any(f.source.startswith("joint_state/") for f in meta.observation)
    joints = [f.joint for f in meta.action]
    assert all(joints) and all(f.mode for f in meta.action)
    groups = sorted({f.source.split("/")[0] for f in meta.observation})
    ns = f"/{scenario}"
    common = {"sensor_qos": "reliable", "command_type": "float64_multi_array", "command_topic": "command"}
    policy = NodeProcess("policy_node", {
        **common, "bundle": bundle, "autostart": True, "mode": "event", "trigger": "all", "fade_in": 0.0,
        "watchdog_periods": 1000.0,
    }, tmp_path, "policy_node", namespace=ns)  # fmt: skip
    bridge = NodeProcess("sim_bridge_node", {
        **common, "bundle": bundle, "mode": "lockstep", "max_episodes": 2,
        "policy_reset_service": f"{ns}/policy_node/reset",
    }, tmp_path, "sim_bridge", namespace=ns)  # fmt: skip
    rclpy.init()
    probe = Probe("robot_probe")
    probe.watch_diagnostics()
    returns = probe.collect(Float64, f"{ns}/sim_bridge/episode_return", result_qos())
    states = probe.collect(JointState, f"{ns}/joint_states", qos_profile("reliable", 10))
    imus = probe.collect(Imu, f"{ns}/imu", qos_profile("reliable", 10))
    odoms = probe.collect(Odometry, f"{ns}/odom", qos_profile("reliable", 10))
    try:
        probe.spin_until(lambda: len(returns) == 2 or not bridge.alive(), 180, "two episodes over ROS")
        assert len(returns) == 2, bridge.log() + policy.log()
        expected = bundle_returns(bundle, 2)
        np.testing.assert_allclose([r.data for r in returns], expected, rtol=0, atol=1e-4)
        # the bridge publishes like a robot: every joint with position, velocity and effort
        msg = states[-1]
        assert len(msg.name) == len(msg.position) == len(msg.velocity) == len(msg.effort) >= len(joints)
        assert set(joints) <= set(msg.name)
        floating = scenario != "arm3_reach"
        assert bool(imus) == floating and bool(odoms) == floating, groups
        if floating:
            q = imus[-1].orientation
            assert abs(np.linalg.norm([q.x, q.y, q.z, q.w]) - 1) < 1e-6
        probe.spin_until(lambda: probe.diag(f"{ns}/policy_node") is not None, 5, "policy diagnostics")
        diag = probe.diag(f"{ns}/policy_node")
        assert int(diag["watchdog_trips"]) == 0 and int(diag["rejected_total"]) == 0, diag
    finally:
        codes = [p.stop(signal.SIGINT) for p in (policy, bridge)]
        probe.close()
        rclpy.try_shutdown()
    assert codes[0] == 0, policy.log()


@pytest.mark.timeout(120)
def test_robot_in_realtime_at_its_control_rate_trips_no_watchdog(tmp_path):
    """The bridge steps HalfCheetah on a steady timer at the bundle's 20 Hz, the policy node steps
    on every sample (trigger all) with the default watchdog (5 periods, 0.25 s): nothing trips,
    episode boundaries included. Only where the robot itself went silent (the JointState stamps,
    set at publishing, 0.2 s or more apart: a stalled host did that once on a clean clone) may it
    trip. An episode boundary is one period plus the reset's round trip: the bridge starts the
    episode when the reset answers (at the next tick it was two periods)."""
    bundle = robot_bundle(tmp_path, "half_cheetah_full")
    ns = "/cheetah_rt"
    common = {"command_type": "float64_multi_array", "command_topic": "command"}
    node = {**common, "bundle": bundle, "autostart": True, "mode": "event", "trigger": "all"}
    policy = NodeProcess("policy_node", node, tmp_path, "policy_node", namespace=ns)
    bridge = NodeProcess("sim_bridge_node", {**common, "bundle": bundle, "mode": "realtime",
                                             "policy_reset_service": f"{ns}/policy_node/reset"},
                         tmp_path, "sim_bridge", namespace=ns)  # fmt: skip
    rclpy.init()
    probe = Probe("rt_probe")
    probe.watch_diagnostics()
    returns, ended = [], []  # each episode's return, and when it arrived
    states, arrived = [], []  # each JointState, and when it arrived

    def timed(messages: list, times: list):
        return lambda m: (messages.append(m), times.append(time.monotonic()))

    probe.node.create_subscription(Float64, f"{ns}/sim_bridge/episode_return", timed(returns, ended),
                                   result_qos())  # fmt: skip
    probe.node.create_subscription(JointState, f"{ns}/joint_states", timed(states, arrived),
                                   qos_profile("sensor_data", 50))  # fmt: skip
    try:
        # two episode boundaries seen by the probe, which may have matched after the first steps
        seen = lambda: len(returns) >= 3 and len(states) >= 2 * EPISODE_STEPS  # noqa: E731
        probe.spin_until(lambda: seen() or not bridge.alive(), 60, "three realtime episodes")
        assert len(returns) >= 3, bridge.log() + policy.log()
        probe.spin_until(lambda: probe.diag(f"{ns}/policy_node") is not None, 5, "policy diagnostics")
        probe.spin_for(1.2)  # a fresh diagnostics snapshot from the running loop
        diag = probe.diag(f"{ns}/policy_node")
        stamps = np.array([m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec for m in states])
        gaps = np.diff(stamps)
        silences = int((gaps >= 0.2).sum())
        assert len(states) >= 2 * EPISODE_STEPS and gaps.min() > 0, (len(states), gaps.min())
        assert int(diag["watchdog_trips"]) <= silences, (diag, np.sort(gaps)[-5:], policy.log()[-3000:])
        assert diag["watchdog_latched"] == "False", diag
        assert int(diag["ticks"]) >= 2 * EPISODE_STEPS
        assert 15.0 <= float(diag["rate_hz"]) <= 25.0, diag  # the robot's 20 Hz
        # the boundaries: the last reading before each return arrived, and the first after it
        # (the return goes out a period after the episode's last reading, before the next one)
        received = np.array(arrived[: len(stamps)])
        after = [int(np.searchsorted(received, t)) for t in ended]
        boundaries = [gaps[i - 1] for i in after if 0 < i < len(stamps)]
        assert len(boundaries) >= 2, (len(boundaries), ended, received[[0, -1]])
        assert min(boundaries) < 1.6 * 0.05, boundaries  # a period and the round trip, not two periods
    finally:
        for p in (policy, bridge):
            p.stop(signal.SIGINT)
        probe.close()
        rclpy.try_shutdown()
