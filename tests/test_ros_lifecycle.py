"""Configure refuses bad bundles and unsatisfiable layouts: the node stays unconfigured and logs one
line saying exactly why. Real lifecycle node, in-process (no DDS traffic needed)."""

from __future__ import annotations

import pytest

pytest.importorskip("rclpy")

import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from rnn_control.contract import ActionField, ObservationField
from rnn_control.ros.policy_node import PolicyNode
from tests.bundles import make_dynamics_bundle, make_policy_bundle

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lifecycle")
    corrupt = tmp / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not a protobuf" * 10)
    imu_obs = [ObservationField("gyro_z", "imu/angular_velocity/z"), ObservationField("x", "vector/0")]
    twist_act = [ActionField("v", "twist/linear/x", -1.0, 1.0)]
    return {
        "good": make_policy_bundle(tmp, obs_dim=3),
        "corrupt": corrupt,
        "dynamics": make_dynamics_bundle(tmp, obs_dim=3, act_dim=1),
        "imu_twist": make_policy_bundle(
            tmp, obs_dim=2, observation=imu_obs, action=twist_act, name="imu_twist"
        ),
        "missing": tmp / "nope.onnx",
    }


def _configure(capfd, **params) -> tuple[PolicyNode, TransitionCallbackReturn, str]:
    capfd.readouterr()
    node = PolicyNode(parameter_overrides=[Parameter(k, value=str(v) if hasattr(v, "parts") else v)
                                           for k, v in params.items()])  # fmt: skip
    result = node.trigger_configure()
    return node, result, capfd.readouterr().err


@pytest.mark.parametrize(
    ("bundle", "extra", "why"),
    [
        ("missing", {}, "bundle '{path}' does not exist"),
        ("corrupt", {}, "bundle '{path}' cannot be loaded"),
        ("dynamics", {}, "is a dynamics bundle; policy_node needs kind 'policy'"),
        ("imu_twist", {}, "command_type 'float64_multi_array' needs all action targets"),
        ("imu_twist", {"command_type": "twist", "imu_topic": ""},
         "the bundle reads ['gyro_z'] from imu messages but parameter imu_topic is empty"),
        ("good", {"mode": "event", "trigger": "imu"}, "event mode: trigger 'imu' is not a sensor group"),
        ("good", {"command_type": "joint_state"}, "command_type 'joint_state' carries joint targets only"),
        ("good", {"mode": "sometimes"}, "parameter mode is 'sometimes'"),
    ],
)  # fmt: skip
def test_configure_refusals_keep_the_node_unconfigured(capfd, bundles, bundle, extra, why):
    node, result, log = _configure(capfd, bundle=bundles[bundle], **extra)
    try:
        assert result == TransitionCallbackReturn.FAILURE
        assert node._state_machine.current_state[1] == "unconfigured"
        refusals = [line for line in log.splitlines() if "configure refused" in line]
        assert len(refusals) == 1, log
        assert why.format(path=bundles[bundle]) in refusals[0]
        assert node.controller is None
    finally:
        node.destroy_node()


def test_empty_bundle_parameter_is_refused(capfd):
    node, result, log = _configure(capfd)
    assert result == TransitionCallbackReturn.FAILURE
    assert "parameter 'bundle' is empty" in log
    node.destroy_node()


def test_satisfiable_layout_configures_and_cleans_up(capfd, bundles):
    node, result, log = _configure(capfd, bundle=bundles["imu_twist"], command_type="twist")
    assert result == TransitionCallbackReturn.SUCCESS, log
    assert node._state_machine.current_state[1] == "inactive"
    assert sorted(node.assembler.groups) == ["imu", "vector"]
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert node.controller is None and node._state_machine.current_state[1] == "unconfigured"
    node.destroy_node()


def test_autostart_configures_and_activates(bundles):
    node = PolicyNode(parameter_overrides=[Parameter("bundle", value=str(bundles["good"])),
                                           Parameter("autostart", value=True)])  # fmt: skip
    assert node._state_machine.current_state[1] == "active" and node.active
    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS and not node.active
    node.destroy_node()


def test_time_aware_bundle_gets_the_measured_dt(tmp_path):
    """A tgru bundle stepped by the node gets the time since the previous step: the same
    observation sequence at a different pace gives different commands."""
    import time

    import numpy as np
    from std_msgs.msg import Float64MultiArray

    from rnn_control.runtime import Controller

    bundle = make_policy_bundle(tmp_path, cell="tgru", obs_dim=3, control_period=0.02)
    params = {"bundle": str(bundle), "autostart": True, "mode": "event", "fade_in": 0.0}
    node = PolicyNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    sent = []
    node._publish = lambda command, stamp=None: sent.append(np.array(command))
    for pause in (0.0, 0.08, 0.08):
        time.sleep(pause)
        node._on_sensor("vector", Float64MultiArray(data=[0.5, -0.2, 0.1]))
    ref = Controller.load(bundle)
    nominal = [ref.step([0.5, -0.2, 0.1], 0.02) for _ in range(3)]
    assert node.controller.counters["bad_dt"] == 0 and len(sent) == 3
    np.testing.assert_allclose(sent[0], nominal[0], atol=1e-6)  # first step: the nominal period
    assert not np.allclose(sent[2], nominal[2], atol=1e-4)  # later steps: ~0.08 s, not 0.02 s
    node.destroy_node()


@pytest.mark.parametrize("executor", ["single_threaded", "events"])
def test_no_command_after_deactivate_even_from_already_queued_timer_events(bundles, executor):
    """Deactivate publishes the safe command and destroys the control timer; with the EventsExecutor
    a timer event queued just before still runs afterwards (10-15 of 30 trials here without the
    guard). An inactive node must publish nothing more, least of all a policy command."""
    import time

    from std_msgs.msg import Float64MultiArray

    from rnn_control.ros.common import events_executor_available, make_executor

    if executor == "events" and not events_executor_available():
        pytest.skip("this rclpy has no EventsExecutor")
    for trial in range(10):
        node = PolicyNode(parameter_overrides=[
            Parameter("bundle", value=str(bundles["good"])), Parameter("autostart", value=True),
            Parameter("fade_in", value=0.0), Parameter("control_period", value=0.001),
            Parameter("watchdog_periods", value=1000.0),
        ])  # fmt: skip
        sensor = node.create_publisher(Float64MultiArray, "observation", 10)
        publish = node.command_pub.publish
        before: list[float] = []  # commands while active
        after: list[float] = []  # commands once deactivated (the safe one, nothing else)

        def record(msg, node=node, publish=publish, before=before, after=after) -> None:
            (after if not node.active else before).append(msg.data[0])
            publish(msg)

        node.command_pub.publish = record

        stopper: list = []

        def deactivate(*_timer_info, node=node, stopper=stopper, before=before) -> None:
            if not any(v != 0.0 for v in before):
                return  # not commanding yet: 30 ms may not see the observation matched on a loaded machine
            node.trigger_deactivate()  # publishes the safe command (recorded: active is already False)
            stopper[0].cancel()

        stopper.append(node.create_timer(0.03, deactivate))
        ex = make_executor(executor)
        ex.add_node(node)

        def spin(sensor=sensor, ex=ex) -> None:
            sensor.publish(Float64MultiArray(data=[0.1, 0.2, 0.3]))
            ex.spin_once(timeout_sec=0.001)

        deadline = time.monotonic() + 10  # however late the node commands on a loaded machine
        while node.active:
            assert time.monotonic() < deadline, f"trial {trial}: never commanded, or never deactivated"
            spin()
        settle = time.monotonic() + 0.1  # timer events queued before the deactivation run now
        while time.monotonic() < settle:
            spin()
        ex.remove_node(node)
        node.destroy_node()
        assert after == [0.0], f"trial {trial}: after deactivate {after}"  # exactly the safe command
