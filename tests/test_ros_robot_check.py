"""The policy node checks a joint-space bundle against the robot at configure: ``robot_joints`` (a
controller's joint list) and ``robot_description_file`` (URDF or MJCF). A mismatch leaves the node
unconfigured with one log line listing every difference. Duplicated joint names and a command
field that contradicts the bundle's control mode are refused too. Real lifecycle node, in-process."""

from __future__ import annotations

import pytest

pytest.importorskip("rclpy")

import rclpy
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter

from rnn_control.contract import ActionField, ObservationField
from rnn_control.ros.policy_node import PolicyNode
from tests.bundles import make_policy_bundle

pytestmark = pytest.mark.timeout(60)

OBS = [
    ObservationField("hip_q", "joint_state/position/hip"),
    ObservationField("knee_q", "joint_state/position/knee"),
    ObservationField("knee_dq", "joint_state/velocity/knee"),
]


def _position(joint: str, low: float, high: float, default: float) -> ActionField:
    return ActionField(joint, f"joint/{joint}", low, high, safe=default, scale=0.5, offset=default,
                       mode="position", default_position=default, kp=20.0, kd=0.5,
                       effort_limit=30.0)  # fmt: skip


URDF = """<?xml version="1.0"?>
<robot name="leg">
  <link name="base"/><link name="thigh"/><link name="shin"/>
  <joint name="hip" type="revolute"><parent link="base"/><child link="thigh"/>
    <limit lower="{hip_lower}" upper="0.8" effort="30" velocity="8"/></joint>
  <joint name="knee" type="revolute"><parent link="thigh"/><child link="shin"/>
    <limit lower="-1.5" upper="0" effort="30" velocity="8"/></joint>
</robot>
"""


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("robot_check")
    act = [_position("hip", -0.8, 0.8, 0.1), _position("knee", -1.5, 0.0, -0.5)]
    mixed = [act[0], ActionField("knee", "joint/knee", -5.0, 5.0, mode="effort", effort_limit=5.0)]
    twice = [ActionField("hip", "joint/hip", -1.0, 1.0), ActionField("hip_again", "joint/hip", -1.0, 1.0)]
    (tmp / "ok.urdf").write_text(URDF.format(hip_lower=-0.8))
    (tmp / "narrow.urdf").write_text(URDF.format(hip_lower=-0.5))
    return {
        "leg": make_policy_bundle(tmp, obs_dim=3, act_dim=2, observation=OBS, action=act, name="leg"),
        "mixed": make_policy_bundle(tmp, obs_dim=3, act_dim=2, observation=OBS, action=mixed, name="mixed"),
        "twice": make_policy_bundle(tmp, obs_dim=3, act_dim=2, observation=OBS, action=twice, name="twice"),
        "ok.urdf": tmp / "ok.urdf",
        "narrow.urdf": tmp / "narrow.urdf",
        "nope.urdf": tmp / "nope.urdf",
    }


def _configure(
    capfd, files, bundle: str = "leg", **params
) -> tuple[PolicyNode, TransitionCallbackReturn, str]:
    capfd.readouterr()
    params = {"bundle": files[bundle], **params}
    overrides = [Parameter(k, value=str(v) if hasattr(v, "parts") else v) for k, v in params.items()]
    node = PolicyNode(parameter_overrides=overrides)
    result = node.trigger_configure()
    return node, result, capfd.readouterr().err


def _refusal(log: str) -> str:
    lines = [line for line in log.splitlines() if "configure refused" in line]
    assert len(lines) == 1, log
    return lines[0].split("configure refused: ", 1)[1]


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"robot_joints": ["knee", "ankle"]},
         "the bundle does not match the robot (2 difference(s)): "
         "joint/hip: commanded by the bundle; robot_joints has no such joint; "
         "joint/ankle: actuated on robot_joints, not commanded by the bundle"),
        ({"robot_description_file": "narrow.urdf", "robot_joints": ["hip", "knee", "toe"]},
         "the bundle does not match the robot (2 difference(s)): "
         "joint/toe: actuated on robot_joints, not commanded by the bundle; "
         "joint/hip: position limits [-0.8, 0.8] (the bundle) exceed [-0.5, 0.8] (URDF narrow.urdf)"),
        ({"robot_joints": ["knee", "hip"], "command_joints": ["hip", "knee"]},
         "joint order: [hip, knee] (the bundle) vs [knee, hip] (robot_joints)"),
        ({"command_joints": ["hip", "knee", "hip"]}, "command_joints lists joint 'hip' 2 times"),
        ({"robot_joints": ["hip", "knee", "hip"]},
         "robot check: robot_joints: joint 'hip' is listed 2 times"),
        ({"robot_description_file": "nope.urdf"}, "nope.urdf: no such file"),
        ({"command_type": "joint_state", "joint_command_field": "effort"},
         "parameter joint_command_field is 'effort' but the bundle commands ['hip', 'knee'] in "
         "position mode"),
        ({"bundle": "mixed", "command_type": "joint_trajectory"},
         "the bundle's joints mix control modes ({'effort': ['knee'], 'position': ['hip']})"),
        ({"bundle": "twice"}, "the bundle's actions write ['joint/hip'] more than once"),
    ],
)  # fmt: skip
def test_a_bundle_that_does_not_fit_the_robot_is_refused_with_every_difference(capfd, files, params, why):
    params = {k: str(files[v]) if k == "robot_description_file" else v for k, v in params.items()}
    node, result, log = _configure(capfd, files, **params)
    try:
        assert result == TransitionCallbackReturn.FAILURE
        assert node._state_machine.current_state[1] == "unconfigured" and node.controller is None
        assert why in _refusal(log)
    finally:
        node.destroy_node()


def test_a_matching_robot_configures_and_commands_go_in_its_joint_order(capfd, files):
    node, result, log = _configure(capfd, files, robot_joints=["knee", "hip"],
                                   robot_description_file=str(files["ok.urdf"]))  # fmt: skip
    try:
        assert result == TransitionCallbackReturn.SUCCESS, log
        assert "matches robot_joints and URDF ok.urdf" in log
        assert node.writer.order.tolist() == [1, 0]  # Float64MultiArray data: knee, hip
    finally:
        node.destroy_node()


def test_joint_command_field_follows_the_bundle_mode_when_unset(capfd, files):
    for command_type in ("joint_state", "joint_trajectory"):
        node, result, log = _configure(capfd, files, command_type=command_type)
        try:
            assert result == TransitionCallbackReturn.SUCCESS, log
            assert node.writer.field in ("position", "positions")
        finally:
            node.destroy_node()
    node, result, log = _configure(capfd, files, command_type="joint_state", joint_command_field="position")
    assert result == TransitionCallbackReturn.SUCCESS, log  # explicit and consistent: fine
    node.destroy_node()
