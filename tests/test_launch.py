"""Launch files and config YAML.

The ``launch`` package is not on PyPI, so here: the launch files compile, every parameter they or
the config YAML set is one the real node declares, and the node graph of sim_closed_loop.launch.py
runs when its nodes are started directly as processes with the same parameter file.
"""

from __future__ import annotations

import ast
import dataclasses
import signal
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("rclpy")

import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_msgs.msg import Float64, Float64MultiArray

from rnn_control.envs.bundle_returns import bundle_returns
from rnn_control.ros.common import qos_profile, result_qos
from tests.ros_support import ROOT, NodeProcess, Probe

LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
# The lockstep tests compare returns over ROS with in-process ones to 1e-6: no observation may be
# lost, so the sensor stream is reliable there (the shipped config keeps best effort, as robots have)
RS = {"sensor_qos": "reliable"}
CONFIG_FILES = sorted((ROOT / "config").glob("*.yaml"))


def _node_calls(path: Path) -> list[dict]:
    """Every ``Node(...)`` in a launch file: executable, name, parameter names set inline."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Node"):
            continue
        kw = {k.arg: k.value for k in call.keywords}
        params: set[str] = set()
        for item in getattr(kw.get("parameters"), "elts", []):
            if isinstance(item, ast.Dict):
                params |= {k.value for k in item.keys if isinstance(k, ast.Constant)}
        nodes.append({
            "executable": kw["executable"].value,
            "name": kw["name"].value,
            "params": params,
        })  # fmt: skip
    return nodes


def _yaml_params(path: Path) -> dict[str, set[str]]:
    """``{node key: parameter names}`` of a ROS parameter file."""
    data = yaml.safe_load(path.read_text())
    return {key: set(body["ros__parameters"]) for key, body in data.items()}


@pytest.fixture(scope="module")
def declared(tmp_path_factory) -> dict[str, set[str]]:
    """Parameters each real node declares, keyed by executable."""
    from rnn_control.ros.dynamics_monitor_node import DynamicsMonitorNode
    from rnn_control.ros.mpc_node import MpcNode
    from rnn_control.ros.policy_node import PolicyNode
    from rnn_control.ros.sim_bridge_node import SimBridgeNode
    from tests.bundles import make_dynamics_bundle

    dyn = make_dynamics_bundle(tmp_path_factory.mktemp("launch"), obs_dim=2, act_dim=1)
    rclpy.init()
    try:
        nodes = {
            "policy_node": PolicyNode(),
            "mpc_node": MpcNode(),
            "sim_bridge_node": SimBridgeNode(
                parameter_overrides=[Parameter("scenario", value="pendulum_novel")]
            ),
            "dynamics_monitor_node": DynamicsMonitorNode(
                parameter_overrides=[Parameter("bundle", value=str(dyn))]
            ),
        }
        out = {exe: set(node._parameters) for exe, node in nodes.items()}
        for node in nodes.values():
            node.destroy_node()
    finally:
        rclpy.try_shutdown()
    return out


def test_launch_files_exist_and_compile():
    names = {p.name for p in LAUNCH_FILES}
    assert {"policy.launch.py", "sim_closed_loop.launch.py"} <= names
    for path in LAUNCH_FILES:
        compile(path.read_text(), str(path), "exec")
        assert "def generate_launch_description" in path.read_text()


def test_launch_files_build_a_description_where_launch_is_installed():
    pytest.importorskip("launch_ros")
    import runpy

    for path in LAUNCH_FILES:
        assert runpy.run_path(str(path))["generate_launch_description"]() is not None


def test_every_parameter_set_by_launch_files_is_declared(declared):
    for path in LAUNCH_FILES:
        for node in _node_calls(path):
            unknown = node["params"] - declared[node["executable"]]
            assert not unknown, f"{path.name}: {node['executable']} does not declare {sorted(unknown)}"


def test_every_parameter_in_config_yaml_is_declared(declared):
    names_to_exe = {n["name"]: n["executable"] for p in LAUNCH_FILES for n in _node_calls(p)}
    for path in CONFIG_FILES:
        users = [n["executable"] for p in LAUNCH_FILES for n in _node_calls(p) if path.name in p.read_text()]
        for key, params in _yaml_params(path).items():
            exe = names_to_exe.get(key.split("/")[-1])
            targets = [exe] if exe else sorted(set(users))
            assert targets, f"{path.name}: no node matches '{key}'"
            for target in targets:
                unknown = params - declared[target]
                assert not unknown, f"{path.name} [{key}]: {target} does not declare {sorted(unknown)}"


def test_policy_config_values_are_valid_for_a_real_node(tmp_path):
    """The shipped policy_node.yaml, loaded as a parameter file, configures a real node."""
    from rnn_control.ros.policy_node import PolicyNode
    from tests.bundles import make_policy_bundle

    bundle = make_policy_bundle(tmp_path, obs_dim=3)
    rclpy.init(args=["--ros-args", "--params-file", str(ROOT / "config" / "policy_node.yaml")])
    try:
        node = PolicyNode(parameter_overrides=[Parameter("bundle", value=str(bundle))])
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node._state_machine.current_state[1] == "inactive"
        assert node.settings.watchdog_periods == 5.0 and node.settings.sensor_qos == "sensor_data"
        node.destroy_node()
    finally:
        rclpy.try_shutdown()


# ------------------------------------------------------------------------ the graph, run directly


def _pendulum_bundle(tmp: Path, cell: str = "gru", dt_jitter: float = 0.0) -> Path:
    """A tiny random policy whose metadata names the pendulum_novel scenario (as a trained one
    would). ``dt_jitter`` > 0 adds the dt_jitter wrapper (every step lasts a random time) and reads
    the observation from a JointState (stamped; Float64MultiArray has no header)."""
    from rnn_control.contract import ObservationField
    from rnn_control.export.onnx_graph import export_graph
    from rnn_control.scenario import load_scenario
    from tests.bundles import TinyPolicy, policy_metadata

    model = TinyPolicy(obs_dim=2, act_dim=1, hidden=16, cell=cell, nominal_dt=0.05, seed=3).eval()
    stamped = [ObservationField(n, f"joint_state/position/{n}") for n in ("cos_theta", "sin_theta")]
    meta = policy_metadata(cell, 2, 1, 16, 1, 0.05, observation=stamped if dt_jitter else None)
    scenario = load_scenario("pendulum_novel").to_dict()
    if dt_jitter:
        scenario["env"]["wrappers"] = [{"dt_jitter": {"jitter": dt_jitter}}, *scenario["env"]["wrappers"]]
    meta = dataclasses.replace(meta, scenario=scenario)
    return export_graph(model, meta, tmp / f"pendulum_{cell}_policy.onnx")


@pytest.mark.ros
@pytest.mark.timeout(120)
def test_sim_closed_loop_graph_runs_as_processes_and_matches_in_process_returns(tmp_path):
    from tests.bundles import make_dynamics_bundle

    bundle = _pendulum_bundle(tmp_path)
    dynamics = make_dynamics_bundle(tmp_path, obs_dim=2, act_dim=1, control_period=0.05)
    config = ROOT / "config" / "sim_closed_loop.yaml"
    ns = "/graph"
    procs = [
        # the watchdog is not under test here: a 1 s stall of a loaded machine must not trip it
        NodeProcess("policy_node", {"bundle": bundle, **RS, "watchdog_periods": 200.0}, tmp_path,
                    "policy_node", config, ns),
        # lockstep: readings come as fast as the loop goes, not at the control period (no gaps)
        NodeProcess("dynamics_monitor_node", {"bundle": dynamics, "gap_factor": 0.0}, tmp_path,
                    "dynamics_monitor", config, ns),
    ]  # fmt: skip
    rclpy.init()
    probe = Probe("graph_probe")
    probe.watch_diagnostics()
    returns = probe.collect(Float64, f"{ns}/sim_bridge/episode_return", result_qos())
    predictions: list = []
    errors: list = []
    monitor = f"{ns}/dynamics_monitor"
    watch = [
        probe.node.create_subscription(Float64MultiArray, f"{monitor}/prediction", predictions.append, 1000),
        probe.node.create_subscription(Float64, f"{monitor}/prediction_error", errors.append, 1000),
    ]
    try:
        # The lockstep run can be over in a second: the probe must hear the monitor before it starts
        # (it once got 24 of the monitor's 420 predictions, its subscriptions matched too late)
        probe.spin_until(
            lambda: all(s.get_publisher_count() > 0 for s in watch) or not all(p.alive() for p in procs),
            60, "the monitor's topics",
        )  # fmt: skip
        bridge = {"bundle": bundle, **RS, "mode": "lockstep", "max_episodes": 2}
        procs.append(NodeProcess("sim_bridge_node", bridge, tmp_path, "sim_bridge", config, ns))
        probe.spin_until(lambda: len(returns) == 2 or not procs[2].alive(), 90, "two episodes over ROS")
        probe.spin_until(lambda: probe.diag(f"{ns}/policy_node") is not None, 5, "policy diagnostics")
        assert len(returns) == 2, procs[2].log()
        expected = bundle_returns(bundle, 2)
        np.testing.assert_allclose([r.data for r in returns], expected, rtol=1e-6)
        # 400 steps, 399 intervals between readings. The monitor's inputs are best effort and the
        # lockstep loop can outrun it: its queues (queue_depth 100) ride out a lag of 100 readings
        # (it scored 398 of 399 on a quiet machine, 160-399 with both cores saturated by two other
        # processes; with 10-deep queues 224-383 on a quiet one). It must be live all along, and it
        # may still be working through its queue when the last return arrives: wait for it.
        live = lambda: len(predictions) > 200 and len(errors) > 200  # noqa: E731
        try:
            probe.spin_until(live, 20, "the monitor's predictions")
        except AssertionError as exc:
            diag = probe.diag(monitor) or {}
            counts = {k: v for k, v in diag.items() if v not in ("0", "")}
            got = f"{len(predictions)} predictions, {len(errors)} errors"
            raise AssertionError(f"{exc}: {got}; the monitor's diagnostics {counts}") from None
        assert np.isfinite([e.data for e in errors]).all()
        # the config's reset_services: the bridge reset the monitor before each episode, as the policy
        resets = lambda: (probe.diag(monitor) or {}).get("resets")  # noqa: E731
        probe.spin_until(lambda: resets() == "2", 5, "the monitor's 2 resets on /diagnostics")
        assert int(probe.diag(f"{ns}/policy_node")["watchdog_trips"]) == 0
        assert procs[2].proc.wait(10) == 0  # the bridge exits after max_episodes
    finally:
        codes = [p.stop(signal.SIGINT) for p in procs]
        probe.close()
        rclpy.try_shutdown()
    assert codes[:2] == [0, 0], [p.log() for p in procs]


@pytest.mark.ros
@pytest.mark.timeout(120)
def test_lockstep_bridge_holds_its_episodes_for_a_late_result_subscriber_and_latches_them(tmp_path):
    """A lockstep run can end in half a second, faster than discovery (a probe once got 0 of 2
    returns that way). The bridge holds its first episode until ``~/episode_return`` has a
    subscriber, here one created 2 s after the policy node connected (a bridge without the wait has
    run by then: the observation probe sees it), and the returns are latched: a second subscriber
    created after three episodes had ended still receives those three."""
    bundle = _pendulum_bundle(tmp_path)
    config = ROOT / "config" / "sim_closed_loop.yaml"
    ns = "/late"
    procs = [
        # the watchdog is not under test here: a 1 s stall of a loaded machine must not trip it
        NodeProcess("policy_node", {"bundle": bundle, **RS, "watchdog_periods": 200.0}, tmp_path,
                    "policy_node", config, ns),
        NodeProcess("sim_bridge_node", {"bundle": bundle, **RS, "mode": "lockstep",
                                         "connect_timeout": 60.0}, tmp_path, "sim_bridge", config, ns),
    ]  # fmt: skip
    rclpy.init()
    probe = Probe("late_probe")
    node, topic = probe.node, f"{ns}/sim_bridge/episode_return"
    observations = probe.collect(Float64MultiArray, f"{ns}/observation", qos_profile("sensor_data", 50))

    def connected() -> bool:  # the policy node subscribes to the observation (so does the probe)
        up = node.count_subscribers(f"{ns}/observation") >= 2 and node.count_publishers(f"{ns}/command") > 0
        return (up and "sim bridge:" in procs[1].log()) or not all(p.alive() for p in procs)

    try:
        probe.spin_until(connected, 60, "the policy node and the bridge")
        probe.spin_for(2.0)
        assert all(p.alive() for p in procs), [p.log() for p in procs]
        assert not observations, "the bridge started its episodes with nobody subscribed to the returns"
        early = probe.collect(Float64, topic, result_qos())
        probe.spin_until(lambda: len(early) >= 3 or not procs[1].alive(), 60, "three episodes")
        late = probe.collect(Float64, topic, result_qos())
        n = len(early)
        probe.spin_until(lambda: len(late) >= n, 10, "the latched returns")
        np.testing.assert_allclose([r.data for r in early[:3]], bundle_returns(bundle, 3), rtol=1e-6)
        assert [r.data for r in late[:n]] == [r.data for r in early[:n]]  # reliable: exactly the same
        assert "subscriber of ~/episode_return after" in procs[1].log()
    finally:
        codes = [p.stop(signal.SIGINT) for p in procs]
        probe.close()
        rclpy.try_shutdown()
    assert codes == [0, 0], [p.log() for p in procs]


@pytest.mark.ros
@pytest.mark.timeout(120)
def test_time_aware_policy_over_ros_gets_the_simulated_step_durations(tmp_path):
    """tgru on a pendulum whose steps last a random time: in lockstep the bridge stamps each
    observation (a JointState) with simulated time and the policy node takes dt from the stamps,
    so the returns over ROS equal the in-process ones, where dt comes from ``info["dt"]``."""
    bundle = _pendulum_bundle(tmp_path, cell="tgru", dt_jitter=0.3)
    config = ROOT / "config" / "sim_closed_loop.yaml"
    ns = "/timeaware"
    procs = [
        NodeProcess("policy_node", {"bundle": bundle, "trigger": "joint_state", **RS}, tmp_path,
                    "policy_node", config, ns),
        NodeProcess("sim_bridge_node", {"bundle": bundle, **RS, "mode": "lockstep", "max_episodes": 2},
                    tmp_path, "sim_bridge", config, ns),
    ]  # fmt: skip
    rclpy.init()
    probe = Probe("timeaware_probe")
    returns = probe.collect(Float64, f"{ns}/sim_bridge/episode_return", result_qos())
    try:
        probe.spin_until(lambda: len(returns) == 2 or not procs[1].alive(), 90, "two episodes over ROS")
        assert len(returns) == 2, procs[1].log()
        expected = bundle_returns(bundle, 2)
        np.testing.assert_allclose([r.data for r in returns], expected, rtol=1e-5)
        # without the stamps (dt = arrival time, milliseconds in lockstep) the returns differ
        nominal = bundle_returns(bundle, 1, dt=0.005)
        assert abs(nominal[0] - expected[0]) > 1e-3
    finally:
        codes = [p.stop(signal.SIGINT) for p in procs]
        probe.close()
        rclpy.try_shutdown()
    assert codes[0] == 0, procs[0].log()


@pytest.mark.ros
@pytest.mark.timeout(60)
def test_realtime_sim_bridge_waits_for_the_policy_node_then_starts_anyway(tmp_path):
    """No episode may start while nobody commands it: the first waits for the policy node, at most
    ``connect_timeout`` seconds (here nobody comes: observations start only after it)."""
    import time

    bundle = _pendulum_bundle(tmp_path)
    config = ROOT / "config" / "sim_closed_loop.yaml"
    bridge = NodeProcess("sim_bridge_node", {"bundle": bundle, "connect_timeout": 2.0},
                         tmp_path, "sim_bridge", config, "/alone")  # fmt: skip
    rclpy.init()
    probe = Probe("alone_probe")
    observations = probe.collect(Float64MultiArray, "/alone/observation", qos_profile("sensor_data", 50))
    try:
        probe.spin_until(lambda: "sim bridge:" in bridge.log(), 30, "the sim bridge to start")
        started = time.monotonic()
        probe.spin_until(lambda: len(observations) > 0, 10, "observations after the connect timeout")
        assert time.monotonic() - started > 1.0  # it waited (2 s after its start line, minus slack)
        assert "starting anyway" in bridge.log()
    finally:
        code = bridge.stop(signal.SIGINT)
        probe.close()
        rclpy.try_shutdown()
    assert code == 0, bridge.log()
