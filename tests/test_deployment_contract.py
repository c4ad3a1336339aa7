"""The deployment contract of joint-space bundles, without ROS: what differs between two bundles
or a bundle and a robot (joint list, URDF, MJCF), and the ``inspect`` / ``diff`` commands."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rnn_control.cli import main
from rnn_control.contract import ActionField, BundleMetadata, ObservationField
from rnn_control.contract.compare import compare_bundles, compare_with_robot
from rnn_control.contract.deployment import declared_command_field
from rnn_control.contract.metadata import SCHEMA_VERSION
from rnn_control.contract.robot_description import (
    joint_list,
    load_robot_description,
    parse_mjcf,
    parse_urdf,
)
from rnn_control.errors import ConfigError
from tests.cli import run_cli

OBS = [
    ObservationField("hip_q", "joint_state/position/hip", "rad"),
    ObservationField("knee_q", "joint_state/position/knee", "rad"),
    ObservationField("knee_dq", "joint_state/velocity/knee", "rad/s"),
]


def _position(joint: str, low: float, high: float, default: float, **kw) -> ActionField:
    kw.setdefault("kp", 20.0)
    kw.setdefault("kd", 0.5)
    return ActionField(
        joint, f"joint/{joint}", low, high, safe=default, scale=kw.pop("scale", 0.5), offset=default,
        mode="position", default_position=default, unit="rad", **kw,
    )  # fmt: skip


ACT = [
    _position("hip", -0.8, 0.8, 0.1, effort_limit=30.0),
    _position("knee", -1.5, 0.0, -0.5, effort_limit=30.0, max_rate=5.0),
]


def _meta(observation=OBS, action=ACT, control_period: float = 0.02) -> BundleMetadata:
    meta = BundleMetadata(
        SCHEMA_VERSION, "policy", "gru", 1, 16, list(observation), list(action), control_period
    )
    meta.validate()
    for f in meta.action:
        f.validate()
    return meta


URDF = """<?xml version="1.0"?>
<robot name="leg">
  <link name="base"/><link name="thigh"/><link name="shin"/><link name="foot"/>
  <joint name="hip" type="revolute"><parent link="base"/><child link="thigh"/>
    <limit lower="-0.8" upper="0.8" effort="30" velocity="8"/></joint>
  <joint name="knee" type="revolute"><parent link="thigh"/><child link="shin"/>
    <limit lower="-1.5" upper="0" effort="{knee_effort}" velocity="8"/></joint>
  <joint name="ankle" type="fixed"><parent link="shin"/><child link="foot"/></joint>
  {extra}
</robot>
"""

MJCF = """<mujoco model="leg">
  <compiler angle="degree"/>
  <default>
    <joint damping="0.5"/>
    <default class="leg">
      <joint range="-45.83662361 45.83662361"/><position kp="20" ctrlrange="-0.8 0.8"/>
    </default>
  </default>
  <worldbody>
    <body name="thigh" childclass="leg"><joint name="hip"/><geom size="0.05"/>
      <body name="shin"><joint name="knee" range="-85.94366927 0"/><geom size="0.05"/></body>
    </body>
  </worldbody>
  <actuator>
    <position class="leg" joint="hip" forcerange="-30 30"/>
    <position class="leg" joint="knee" kp="{knee_kp}" ctrlrange="-1.5 0" forcerange="-30 30"/>
  </actuator>
</mujoco>
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------- bundle vs bundle


def test_identical_contracts_have_no_differences():
    assert compare_bundles(_meta(), _meta()) == []


def test_every_contract_field_that_differs_is_one_line_naming_the_joint_and_both_values():
    hip, knee = ACT
    other = [
        dataclasses.replace(knee, kp=25.0, max_rate=None),
        dataclasses.replace(hip, default_position=0.2, offset=0.2, safe=0.2, low=-0.7),
        ActionField("ankle", "joint/ankle", -5.0, 5.0, mode="effort", effort_limit=5.0),
    ]
    differences = compare_bundles(_meta(), _meta(OBS[::-1], other, 0.01), ("a.onnx", "b.onnx"))
    lines = [str(d) for d in differences]
    assert lines == [
        "control period: 0.02 s = 50 Hz (a.onnx) vs 0.01 s = 100 Hz (b.onnx)",
        "joint/hip: limits [-0.8, 0.8] (a.onnx) vs [-0.7, 0.8] (b.onnx)",
        "joint/hip: offset 0.1 (a.onnx) vs 0.2 (b.onnx)",
        "joint/hip: default position 0.1 (a.onnx) vs 0.2 (b.onnx)",
        "joint/hip: safe 0.1 (a.onnx) vs 0.2 (b.onnx)",
        "joint/knee: kp 20 (a.onnx) vs 25 (b.onnx)",
        "joint/knee: max rate 5 (a.onnx) vs - (b.onnx)",
        "joint/ankle: commanded by b.onnx only",
        "action order: [joint/hip, joint/knee] (a.onnx) vs [joint/knee, joint/hip] (b.onnx)",
        "observation order: [joint_state/position/hip, joint_state/position/knee, "
        "joint_state/velocity/knee] (a.onnx) vs [joint_state/velocity/knee, joint_state/position/knee, "
        "joint_state/position/hip] (b.onnx)",
    ]


def test_modes_gains_units_and_observation_layout_are_compared():
    knee = ACT[1]
    velocity = ActionField("hip", "joint/hip", -2.0, 2.0, mode="velocity", kd=0.3, unit="rad/s")
    obs = [*OBS[:2], ObservationField("gyro_z", "imu/angular_velocity/z", "rad/s")]
    other = _meta(obs, [velocity, dataclasses.replace(knee, kd=1.0)])
    lines = [str(d) for d in compare_bundles(_meta(), other)]
    assert "joint/hip: mode position (A) vs velocity (B)" in lines
    assert "joint/hip: unit rad (A) vs rad/s (B)" in lines
    assert "joint/hip: kp 20 (A) vs - (B)" in lines
    assert "joint/knee: kd 0.5 (A) vs 1 (B)" in lines
    assert "observation joint_state/velocity/knee: read by A only" in lines
    assert "observation imu/angular_velocity/z: read by B only" in lines


# ------------------------------------------------------------------------- bundle vs robot


def test_joint_list_names_missing_and_extra_joints_and_the_order():
    lines = [str(d) for d in compare_with_robot(_meta(), joint_list(["knee", "hip", "ankle"]))]
    assert lines == [
        "joint/ankle: actuated on the robot's joint list, not commanded by the bundle",
        "joint order: [hip, knee] (the bundle) vs [knee, hip] (the robot's joint list)",
    ]
    # the command order is the node's command_joints when set
    assert compare_with_robot(_meta(), joint_list(["knee", "hip"]), command_joints=["knee", "hip"]) == []
    lines = [str(d) for d in compare_with_robot(_meta(), joint_list(["hip"]))]
    assert lines == ["joint/knee: commanded by the bundle; the robot's joint list has no such joint"]


def test_joint_list_refuses_duplicated_names():
    with pytest.raises(ConfigError, match="joint 'hip' is listed 2 times"):
        joint_list(["hip", "knee", "hip"])


def test_urdf_limits_modes_and_joint_set(tmp_path):
    ok = _write(tmp_path, "ok.urdf", URDF.format(knee_effort=30, extra=""))
    robot = parse_urdf(ok)
    assert [j.name for j in robot.joints] == ["hip", "knee"]  # the fixed ankle is not a commanded joint
    knee = robot.joint("knee")
    assert (knee.lower, knee.upper, knee.effort_limit, knee.velocity_limit) == (-1.5, 0, 30, 8)
    assert compare_with_robot(_meta(), robot) == []
    control = """<ros2_control name="leg" type="system">
      <joint name="hip"><command_interface name="effort"/><state_interface name="position"/></joint>
      <joint name="knee"><command_interface name="position"/></joint>
      <joint name="wheel"><command_interface name="velocity"/></joint></ros2_control>"""
    bad = _write(tmp_path, "bad.urdf", URDF.format(knee_effort=20, extra=control))
    wider = [_position("hip", -1.0, 0.8, 0.1), ACT[1], _position("toe", -1, 1, 0.0)]
    obs = [*OBS, ObservationField("toe_q", "joint_state/position/toe")]
    lines = [str(d) for d in compare_with_robot(_meta(obs, wider), parse_urdf(bad))]
    assert lines == [
        "joint/toe: commanded by the bundle; URDF bad.urdf has no such joint",
        "joint/toe: read by the bundle (joint_state/.../toe); URDF bad.urdf has no such joint",
        "joint/hip: mode position (the bundle) vs effort (URDF bad.urdf)",
        "joint/hip: position limits [-1, 0.8] (the bundle) exceed [-0.8, 0.8] (URDF bad.urdf)",
        "joint/knee: effort limit 30 (the bundle) exceeds 20 (URDF bad.urdf)",
    ]


def test_urdf_that_is_xacro_or_not_a_urdf_is_refused_with_the_reason(tmp_path):
    xacro = _write(tmp_path, "leg.urdf.xacro", '<robot xmlns:xacro="http://www.ros.org/wiki/xacro" name="r">'
                   '<xacro:property name="l" value="1"/></robot>')  # fmt: skip
    with pytest.raises(ConfigError, match="a xacro file; expand it first"):
        parse_urdf(xacro)
    with pytest.raises(ConfigError, match="root element is <mujoco>, expected <robot>"):
        parse_urdf(_write(tmp_path, "m.xml", "<mujoco/>"))
    with pytest.raises(ConfigError, match="no such file"):
        load_robot_description(tmp_path / "nope.urdf")
    with pytest.raises(ConfigError, match="not readable XML"):
        load_robot_description(_write(tmp_path, "junk.urdf", "<robot"))


def test_mjcf_defaults_degrees_and_actuators(tmp_path):
    robot = parse_mjcf(_write(tmp_path, "leg.xml", MJCF.format(knee_kp=20)))
    hip, knee = robot.joint("hip"), robot.joint("knee")
    assert hip.lower == pytest.approx(-0.8) and hip.upper == pytest.approx(0.8)  # degrees -> rad
    assert knee.lower == pytest.approx(-1.5) and knee.upper == pytest.approx(0.0)
    assert hip.modes == ("position",) and hip.kp == 20 and hip.effort_limit == 30
    assert knee.target_range == (-1.5, 0.0) and robot.actuated_order == ["hip", "knee"]
    assert compare_with_robot(_meta(), robot) == []
    robot = parse_mjcf(_write(tmp_path, "leg2.xml", MJCF.format(knee_kp=40)))
    effort = ActionField("hip", "joint/hip", -50.0, 50.0, mode="effort")
    lines = [str(d) for d in compare_with_robot(_meta(action=[effort, ACT[1]]), robot, label="b.onnx")]
    assert lines == [
        "joint/hip: mode effort (b.onnx) vs position (MJCF leg2.xml)",
        "joint/hip: effort limits [-50, 50] (b.onnx) exceed [-30, 30] (MJCF leg2.xml)",
        "joint/knee: kp 20 (b.onnx) vs 40 (MJCF leg2.xml)",
    ]


def test_mjcf_parse_agrees_with_mujoco_on_gymnasium_robots():
    """Joint ranges, actuated joints and effort limits read with xml.etree match what MuJoCo compiles."""
    mujoco = pytest.importorskip("mujoco")
    gymnasium = pytest.importorskip("gymnasium")
    assets = Path(gymnasium.__file__).parent / "envs" / "mujoco" / "assets"
    for name in ("half_cheetah", "ant", "hopper", "walker2d_v5", "reacher", "pusher_v5"):
        model = mujoco.MjModel.from_xml_path(str(assets / f"{name}.xml"))
        robot = parse_mjcf(assets / f"{name}.xml")
        for j in range(model.njnt):
            joint = robot.joint(model.joint(j).name)
            if model.jnt_type[j] in (mujoco.mjtJoint.mjJNT_HINGE, mujoco.mjtJoint.mjJNT_SLIDE):
                expected = tuple(model.jnt_range[j]) if model.jnt_limited[j] else (None, None)
                assert (joint.lower, joint.upper) == pytest.approx(expected), (name, joint.name)
        actuated = [model.joint(model.actuator_trnid[a, 0]).name for a in range(model.nu)]
        assert robot.actuated_order == actuated, name
        for a in range(model.nu):  # motors: |gear| x min(force bound, gain x control bound)
            bounds = [abs(model.actuator_forcerange[a]).max()] if model.actuator_forcelimited[a] else []
            if model.actuator_ctrllimited[a]:
                bounds.append(abs(model.actuator_gainprm[a, 0]) * abs(model.actuator_ctrlrange[a]).max())
            bound = abs(model.actuator_gear[a, 0]) * min(bounds)
            assert robot.joint(actuated[a]).effort_limit == pytest.approx(bound), (name, actuated[a])


def test_declared_command_field_follows_the_mode_and_refuses_mixed_modes():
    assert declared_command_field(ACT) == "position"
    assert declared_command_field([ActionField("u", "vector/0", -1, 1)]) is None
    mixed = [ACT[0], ActionField("knee", "joint/knee", -1, 1, mode="effort")]
    with pytest.raises(ValueError, match="mix control modes"):
        declared_command_field(mixed)


# ------------------------------------------------------------------------- the commands


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    from tests.bundles import make_policy_bundle

    tmp = tmp_path_factory.mktemp("contract")
    a = make_policy_bundle(tmp, obs_dim=3, act_dim=2, observation=OBS, action=ACT, name="a")
    same = make_policy_bundle(tmp, obs_dim=3, act_dim=2, observation=OBS, action=ACT, name="same", seed=3)
    other = [dataclasses.replace(ACT[0], kp=25.0), ACT[1]]
    b = make_policy_bundle(
        tmp, obs_dim=3, act_dim=2, observation=OBS, action=other, name="b", control_period=0.01
    )
    vector = make_policy_bundle(tmp, obs_dim=3, act_dim=1, name="vector")
    return {"a": a, "same": same, "b": b, "vector": vector, "tmp": tmp}


def test_inspect_shows_the_whole_joint_contract(bundles, capsys):
    assert main(["inspect", str(bundles["a"])]) == 0
    out = capsys.readouterr().out
    assert "control period 0.02 s (50.0 Hz)" in out
    assert "Joints (deployment contract" in out
    header = next(line for line in out.splitlines() if "effort_limit" in line).split()
    assert header == ["#", "joint", "mode", "default", "scale", "offset", "kp", "kd", "effort_limit",
                      "position_limits", "command_limits", "safe", "slew", "unit"]  # fmt: skip
    rows = {line.split()[1]: line.split() for line in out.splitlines() if " position " in line}
    assert rows["hip"] == ["0", "hip", "position", "0.1", "0.5", "0.1", "20", "0.5", "30", "[-0.8,", "0.8]",
                           "[-0.8,", "0.8]", "0.1", "-", "rad"]  # fmt: skip
    assert rows["knee"][-3:] == ["-0.5", "5", "rad"]
    assert "command order (command_joints default): hip, knee" in out
    assert "JointState/JointTrajectory field: position" in out


def test_inspect_of_a_plain_vector_bundle_is_unchanged(bundles, capsys):
    assert main(["inspect", str(bundles["vector"])]) == 0
    out = capsys.readouterr().out
    assert "Action (model output -> command = offset + scale * output, clipped)" in out
    assert "Joints" not in out and "vector/0" in out


def test_diff_exit_codes_and_lines(bundles, capsys):
    a, b = str(bundles["a"]), str(bundles["b"])
    assert main(["diff", a, str(bundles["same"])]) == 0  # other weights, same contract
    assert "a.onnx vs same.onnx: no differences" in capsys.readouterr().out
    assert main(["diff", a, b]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "a.onnx vs b.onnx: 2 differences",
        "  control period: 0.02 s = 50 Hz (a.onnx) vs 0.01 s = 100 Hz (b.onnx)",
        "  joint/hip: kp 20 (a.onnx) vs 25 (b.onnx)",
    ]
    assert main(["diff", a, "--joints", "hip", "knee"]) == 0
    assert main(["diff", a, "--joints", "knee", "hip", "ankle"]) == 1
    out = capsys.readouterr().out
    assert "  joint/ankle: actuated on the joint list, not commanded by a.onnx" in out
    assert "  joint order: [hip, knee] (a.onnx) vs [knee, hip] (the joint list)" in out
    assert main(["diff", a, "--joints", "knee", "hip", "--command-joints", "knee", "hip"]) == 0
    tmp = bundles["tmp"]
    urdf = _write(tmp, "leg.urdf", URDF.format(knee_effort=20, extra=""))
    mjcf = _write(tmp, "leg.xml", MJCF.format(knee_kp=20))
    capsys.readouterr()
    assert main(["diff", a, "--mjcf", str(mjcf)]) == 0
    assert main(["diff", a, "--urdf", str(urdf), "--mjcf", str(mjcf)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "a.onnx vs URDF leg.urdf: 1 difference" in out
    assert "  joint/knee: effort limit 30 (a.onnx) exceeds 20 (URDF leg.urdf)" in out
    assert "a.onnx vs MJCF leg.xml: no differences" in out


def test_diff_as_a_process_exit_codes(bundles):
    res = run_cli("diff", str(bundles["a"]), str(bundles["b"]), timeout=120)
    assert res.returncode == 1 and "joint/hip: kp 20 (a.onnx) vs 25 (b.onnx)" in res.stdout
    res = run_cli("diff", str(bundles["a"]), timeout=120)
    assert res.returncode == 2 and "nothing to compare with" in res.stderr
    res = run_cli("diff", str(bundles["a"]), "--urdf", str(bundles["tmp"] / "nope.urdf"), timeout=120)
    assert res.returncode == 2 and "nope.urdf: no such file" in res.stderr


def test_float_tolerance():
    nudged = [dataclasses.replace(ACT[0], kp=20.0 * (1 + 1e-12)), ACT[1]]
    assert compare_bundles(_meta(), _meta(action=nudged)) == []
    (line,) = compare_bundles(_meta(), _meta(control_period=0.02 + 1e-6))
    assert str(line) == "control period: 0.02 s = 50 Hz (A) vs 0.020001 s = 49.9975 Hz (B)"
