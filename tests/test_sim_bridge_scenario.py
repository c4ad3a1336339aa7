"""The sim bridge in scenario mode (no bundle): its control period comes from envs.timing and its
IO layout from the contract's bundle_layout, exactly as an exported bundle of the scenario has them."""

from __future__ import annotations

import pytest
import yaml

from rnn_control.contract.layout import bundle_layout
from rnn_control.envs import control_period, describe_spaces, make_env
from rnn_control.scenario import load_scenario, resolve_scenario

pytestmark = pytest.mark.ros


@pytest.fixture
def ros_context():
    import rclpy

    rclpy.init()
    yield
    rclpy.try_shutdown()


def _bridge(scenario: str):
    from rclpy.parameter import Parameter

    from rnn_control.ros.sim_bridge_node import SimBridgeNode

    return SimBridgeNode(parameter_overrides=[Parameter("scenario", value=scenario)])


def test_cartpole_bridge_runs_at_the_env_tau_and_action_repeat_multiplies_it(ros_context, tmp_path):
    # CartPole keeps its step in `tau` (0.02 s): a bridge reading `dt` would have run at 20 Hz.
    bridge = _bridge("cartpole_novel")
    try:
        assert bridge.period == pytest.approx(0.02)
    finally:
        bridge.destroy_node()
    data = yaml.safe_load(resolve_scenario("cartpole_novel").read_text())
    data["env"]["wrappers"] = [*data["env"].get("wrappers", []), {"action_repeat": {"repeat": 3}}]
    path = tmp_path / "cartpole_repeat3.yaml"
    path.write_text(yaml.safe_dump(data))
    bridge = _bridge(str(path))
    try:
        assert bridge.period == pytest.approx(0.06)
    finally:
        bridge.destroy_node()


def test_bridge_layout_is_the_contract_layout_of_the_scenario(ros_context):
    sc = load_scenario("pendulum_novel")
    env = make_env(sc.env)
    spaces = describe_spaces(env.observation_space, env.action_space)
    observation, action = bundle_layout(sc.io, spaces["observation"]["shape"][0], spaces["action"])
    assert control_period(env) == pytest.approx(0.05)
    bridge = _bridge("pendulum_novel")
    try:
        assert bridge.period == pytest.approx(0.05)
        assert [o.name for o in observation] == ["cos_theta", "sin_theta"]  # the scenario's io: names
        assert bridge.builder.groups == ["vector"] and len(bridge.obs_fields) == len(observation)
        assert list(bridge.scale) == [a.scale for a in action]
        assert list(bridge.offset) == [a.offset for a in action]
        assert list(bridge.held) == [a.safe for a in action]
    finally:
        bridge.destroy_node()
