"""The MPC node over DDS: the closed loop with the sim bridge in lockstep equals the in-process MPC
episode by episode; commands equal the runtime's; safety (e-stop, watchdog, safe command on exit);
diagnostics; configure refusals (not a planning bundle, IO that does not fit, K/H out of range,
unknown cost field)."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
import yaml

pytest.importorskip("rclpy")

import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_msgs.msg import Bool, Float64, Float64MultiArray

from rnn_control.envs.mpc_returns import mpc_returns
from rnn_control.ros.common import qos_profile, result_qos
from rnn_control.runtime.mpc import MpcController
from tests.bundles import make_policy_bundle
from tests.mpc_support import planning_bundle
from tests.ros_support import ROOT, DiagnosticsLog, NodeProcess, Probe, wait_inputs_matched

pytestmark = [pytest.mark.ros, pytest.mark.timeout(150)]
RELIABLE = qos_profile("reliable", 1000)
SECTION = {
    "planner": "mppi", "samples": 0, "horizon": 0, "deadline": 0.0, "noise_beta": 1.0, "temperature": 0.5,
    "cost": {"terms": [{"kind": "angle", "fields": ["cos_theta", "sin_theta"]},
                       {"kind": "rate", "fields": ["cos_theta", "sin_theta"], "weight": 0.1},
                       {"kind": "quadratic", "field": "torque", "weight": 0.001}]},
}  # fmt: skip


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("ros_mpc")


@pytest.fixture(scope="module")
def bundle(tmp):
    return planning_bundle(tmp, batch=32, horizon=8)


@pytest.fixture(scope="module")
def section_file(tmp):
    path = tmp / "mpc_section.yaml"
    path.write_text(yaml.safe_dump({"mpc": SECTION}))
    return path


@pytest.fixture(scope="module")
def probe():
    rclpy.init()
    p = Probe("mpc_probe")
    p.watch_diagnostics()
    yield p
    p.close()
    rclpy.try_shutdown()


def test_lockstep_closed_loop_over_ros_equals_the_in_process_mpc(tmp, bundle, section_file, probe):
    config = ROOT / "config" / "sim_closed_loop_mpc.yaml"
    ns = "/mpcloop"
    # the first status after the last episode covers every tick of the loop; once the bridge has
    # exited the sensor stream ends and the watchdog trips (5 s later): statuses every 0.2 s keep
    # that trip out of the one read (a status read after the in-process reference, seconds
    # later, once carried it)
    node_params = {"bundle": bundle, "mpc_scenario": section_file, "watchdog_periods": 100.0,
                   "diagnostics_period": 0.2}
    diagnostics = DiagnosticsLog(probe)
    procs = [
        NodeProcess("mpc_node", node_params, tmp, "mpc_node", config, ns),
        NodeProcess("sim_bridge_node", {"scenario": "pendulum_novel", "mode": "lockstep", "max_episodes": 2},
                    tmp, "sim_bridge", config, ns),
    ]  # fmt: skip
    returns = probe.collect(Float64, f"{ns}/sim_bridge/episode_return", result_qos())
    try:
        probe.spin_until(lambda: len(returns) == 2 or not procs[1].alive(), 120, "two episodes over ROS")
        assert len(returns) == 2, procs[1].log() + procs[0].log()
        _, _, diag = diagnostics.wait(probe, f"{ns}/mpc_node", time.time_ns(), what="mpc diagnostics")
        expected = mpc_returns(bundle, 2, seed=0, config=SECTION)
        assert mpc_returns(bundle, 2, seed=0, config=SECTION) == expected  # deterministic
        np.testing.assert_allclose([r.data for r in returns], expected, rtol=1e-9)
        for key in ("solve_time_p50_us", "solve_time_p99_us", "deadline_misses", "cost", "truncated"):
            assert key in diag, diag
        assert int(diag["deadline_misses"]) == 0 and int(diag["watchdog_trips"]) == 0
        assert procs[1].proc.wait(10) == 0
    finally:
        codes = [p.stop(signal.SIGINT) for p in procs]
    assert codes[0] == 0, procs[0].log()


@pytest.fixture(scope="module")
def event_node(tmp, bundle, section_file, probe):
    proc = NodeProcess(
        "mpc_node",
        {"bundle": bundle, "mpc_scenario": section_file, "autostart": True, "mode": "event", "fade_in": 0.0,
         "sensor_qos": "reliable", "sensor_qos_depth": 100, "watchdog_periods": 10_000.0,
         "diagnostics_period": 0.1, "planning_shards": 2},
        tmp, namespace="/mpcev",
    )  # fmt: skip
    pub = probe.node.create_publisher(Float64MultiArray, "/mpcev/observation", RELIABLE)
    estop = probe.node.create_publisher(Bool, "/mpcev/estop", qos_profile("reliable", 10))
    commands = probe.collect(Float64MultiArray, "/mpcev/command", RELIABLE)

    def connected() -> bool:
        assert proc.alive(), proc.log()
        subscribed = pub.get_subscription_count() > 0 and estop.get_subscription_count() > 0
        return subscribed and probe.node.count_publishers("/mpcev/command") > 0

    probe.spin_until(connected, 30, "the mpc node")
    wait_inputs_matched(probe, "/mpcev/mpc_node", ("vector", "estop"))
    yield proc, pub, estop, commands
    proc.stop(signal.SIGINT)


def test_commands_equal_the_runtime_and_estop_latches_the_safe_command(event_node, bundle, probe):
    _proc, pub, estop, commands = event_node
    rng = np.random.default_rng(2)
    angles = rng.uniform(-3, 3, size=15)
    commands.clear()
    for k, th in enumerate(angles):
        pub.publish(Float64MultiArray(data=[float(np.cos(th)), float(np.sin(th))]))
        probe.spin_until(lambda k=k: len(commands) > k, 10.0, f"command {k}")
    # the node splits its candidates over 2 concurrent rollouts; the reference plans in one call
    ref = MpcController.load(bundle, SECTION)
    want = [ref.step([np.cos(th), np.sin(th)])[0] for th in angles]
    np.testing.assert_allclose([m.data[0] for m in commands[:15]], want, atol=1e-6)
    diag = DiagnosticsLog(probe)
    t = time.time_ns()
    estop.publish(Bool(data=True))
    # the latch is in place (a status after the e-stop says so) before the next observation
    level, _, values = diag.wait(probe, "/mpcev/mpc_node", t, lambda v: v["estop_latched"] == "True")
    assert level == 2 and values["shards"] == "2", values
    commands.clear()
    pub.publish(Float64MultiArray(data=[1.0, 0.0]))
    probe.spin_until(lambda: len(commands) > 0, 5.0, "a command under e-stop")
    assert commands[-1].data[0] == 0.0  # the safe command, latched


def test_watchdog_and_safe_command_on_sigterm(tmp, bundle, section_file, probe):
    proc = NodeProcess(
        "mpc_node",
        {"bundle": bundle, "mpc_scenario": section_file, "autostart": True, "mode": "timer",
         "fade_in": 0.0, "watchdog_periods": 4.0, "sensor_qos": "reliable", "diagnostics_period": 0.1},
        tmp, namespace="/mpcwd",
    )  # fmt: skip
    pub = probe.node.create_publisher(Float64MultiArray, "/mpcwd/observation", RELIABLE)
    commands = probe.collect(Float64MultiArray, "/mpcwd/command", RELIABLE)
    diag = DiagnosticsLog(probe)
    try:
        probe.spin_until(lambda: pub.get_subscription_count() > 0 and len(commands) > 0, 30, "the node")
        for _ in range(20):  # 0.05 s period: fresh data for a second, then silence
            pub.publish(Float64MultiArray(data=[-1.0, 0.05]))
            probe.spin_for(0.05)
        assert any(abs(m.data[0]) > 1e-6 for m in commands)  # it planned
        # silence from here: > 4 periods later the watchdog latches. A status stamped 0.3 s after
        # the last message (not merely one after it: a gap in the feed on a loaded machine may
        # have tripped and released the watchdog already) must say latched, and the commands
        # must then be the safe one
        late = time.time_ns() + 300_000_000
        diag.wait(probe, "/mpcwd/mpc_node", late, lambda v: v["watchdog_latched"] == "True", "the watchdog")
        probe.spin_until(lambda: commands[-1].data[0] == 0.0, 5, "the safe command")
        n = len(commands)
        assert proc.stop(signal.SIGTERM) == 0, proc.log()
        probe.spin_for(0.3)
        assert len(commands) > n and commands[-1].data[0] == 0.0  # the safe command before exit
    finally:
        proc.stop()


def _configure(params: dict) -> tuple[TransitionCallbackReturn, str]:
    """Configure an in-process MpcNode with ``params``; (result, the error logged)."""
    from rnn_control.ros import mpc_node as module

    node = module.MpcNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    errors: list[str] = []
    logger = node.get_logger()
    real = logger.error
    logger.error = lambda msg, *a, **k: (errors.append(str(msg)), real(msg, *a, **k))[1]
    result = node.trigger_configure()
    node.destroy_node()
    return result, " ".join(errors)


def test_configure_refuses_bad_bundles_and_settings(tmp, bundle, section_file, probe):
    ok, _ = _configure({"bundle": str(bundle), "mpc_scenario": str(section_file)})
    assert ok == TransitionCallbackReturn.SUCCESS
    policy = make_policy_bundle(tmp, obs_dim=2, act_dim=1, name="notplan")
    cases = [
        ({"bundle": str(policy)}, "not a planning bundle"),
        ({"bundle": str(bundle), "mpc_scenario": str(section_file), "vector_topic": ""},
         "reads ['cos_theta', 'sin_theta'] from vector messages but parameter vector_topic is empty"),
        ({"bundle": str(bundle), "mpc_scenario": str(section_file), "command_type": "twist"}, "twist"),
        ({"bundle": str(bundle)}, "mpc.samples: 256 does not fit"),  # the bundle's scenario wants 256 x 30
    ]  # fmt: skip
    bad = tmp / "bad_cost.yaml"
    bad.write_text(
        yaml.safe_dump({"mpc": {**SECTION, "cost": {"terms": [{"kind": "quadratic", "field": "x"}]}}})
    )
    cases.append(({"bundle": str(bundle), "mpc_scenario": str(bad)}, "unknown field 'x'"))
    for params, message in cases:
        result, logged = _configure(params)
        assert result == TransitionCallbackReturn.FAILURE, params
        assert message in logged, (message, logged)
