"""Robots from MuJoCo models (real MuJoCo): the joint and actuator tables of Gymnasium's robots,
sensor readings against MuJoCo's own sensors and the simulator state, observation terms, and
the bad-input messages."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from rnn_control.envs.robots import RobotModel
from rnn_control.envs.robots.sensors import SensorReader, read_sensors
from rnn_control.envs.robots.terms import ObservationTerms
from rnn_control.errors import ConfigError
from rnn_control.scenario.robot import OBSERVATION_TERMS, ObservationTerm, parse_terms

GRAVITY = 9.81

# A free-floating base with an IMU site at its origin (tilted, off-centre geom so that the body
# frame and the inertial frame differ), one actuated hip, and MuJoCo's own sensors as ground truth.
IMU_XML = """<mujoco><option timestep="0.002" gravity="0 0 -9.81"/>
<worldbody><geom type="plane" size="5 5 .1"/>
 <body name="base" pos="0 0 0.5" euler="10 20 30"><freejoint name="root"/>
  <geom type="box" size=".2 .1 .05" pos=".05 0 0" mass="2"/>
  <site name="imu" pos="0 0 0"/>
  <body name="leg" pos=".2 0 0"><joint name="hip" axis="0 1 0" range="-1 1"/>
   <geom type="capsule" fromto="0 0 0 0 0 -.3" size=".03"/></body>
 </body></worldbody>
<actuator><motor joint="hip" gear="10" ctrlrange="-1 1"/></actuator>
<sensor><gyro site="imu"/><accelerometer site="imu"/><framequat objtype="site" objname="imu"/>
 <velocimeter site="imu"/><framepos objtype="site" objname="imu"/></sensor>
</mujoco>"""


def _gym_robot(env_id: str) -> RobotModel:
    return RobotModel(gym.make(env_id).unwrapped.model, env_id)


def _terms(raw: list) -> list[ObservationTerm]:
    return parse_terms(ObservationTerm, raw, OBSERVATION_TERMS, "terms")


# --- joint and actuator tables ------------------------------------------------------------------


@pytest.mark.parametrize(
    "env_id,root,joints,gear",
    [
        ("HalfCheetah-v5", "planar", ["bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot"], 120.0),
        ("Hopper-v5", "planar", ["thigh_joint", "leg_joint", "foot_joint"], 200.0),
        (
            "Walker2d-v5",
            "planar",
            [
                "thigh_joint",
                "leg_joint",
                "foot_joint",
                "thigh_left_joint",
                "leg_left_joint",
                "foot_left_joint",
            ],
            100.0,
        ),
        (
            "Ant-v5",
            "free",
            ["hip_1", "ankle_1", "hip_2", "ankle_2", "hip_3", "ankle_3", "hip_4", "ankle_4"],
            150.0,
        ),
        ("Reacher-v5", "fixed", ["joint0", "joint1"], 200.0),
    ],
)
def test_gym_robots_joint_and_actuator_tables(env_id, root, joints, gear):
    robot = _gym_robot(env_id)
    model = robot.model
    assert robot.root.kind == root and robot.joint_names == joints
    assert robot.base_body == ("world" if root == "fixed" else "torso")
    for a in robot.actuators:  # each actuator names the joint MuJoCo's transmission drives
        assert a.joint == model.joint(int(model.actuator_trnid[a.id, 0])).name
    first = robot.actuators[0]
    assert first.gear == gear and first.effort_range == (-gear, gear) and first.effort_per_ctrl == gear
    for j in robot.joints:
        assert (j.qpos_adr, j.dof_adr) == (model.jnt_qposadr[j.id], model.jnt_dofadr[j.id])
        assert j.units == ("rad", "rad/s", "N*m")


def test_ant_actuator_order_differs_from_its_joint_order():
    robot = _gym_robot("Ant-v5")
    assert robot.actuated_joints == [
        "hip_4",
        "ankle_4",
        "hip_1",
        "ankle_1",
        "hip_2",
        "ankle_2",
        "hip_3",
        "ankle_3",
    ]
    assert robot.joint_names[:2] == ["hip_1", "ankle_1"]
    assert robot.root.joints == ("root",)


def test_planar_root_and_joints_outside_the_robot():
    assert _gym_robot("HalfCheetah-v5").root.joints == ("rootx", "rootz", "rooty")
    reacher = _gym_robot("Reacher-v5")  # the target's slides move the target, not the arm
    assert [j.name for j in reacher.other_joints] == ["target_x", "target_y"]
    assert reacher.joint("joint1").limited and reacher.joint("joint1").range == (-3.0, 3.0)
    assert not reacher.joint("joint0").limited and reacher.joint("joint0").range == (-np.inf, np.inf)


# --- sensors ------------------------------------------------------------------------------------


def _imu_sim():
    model = mujoco.MjModel.from_xml_string(IMU_XML)
    data = mujoco.MjData(model)
    robot = RobotModel(model, "imu test")
    return model, data, robot, SensorReader(robot)


def _quat_to_mat(q_wxyz: np.ndarray) -> np.ndarray:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, q_wxyz)
    return mat.reshape(3, 3)


def test_sensor_layout_of_a_floating_robot():
    _, _, _, reader = _imu_sim()
    assert reader.sources[:3] == [
        "joint_state/position/hip",
        "joint_state/velocity/hip",
        "joint_state/effort/hip",
    ]
    assert reader.sources[reader.blocks["imu/orientation"]] == [f"imu/orientation/{a}" for a in "xyzw"]
    assert reader.sources[-1] == "odometry/twist/angular/z" and len(reader.sources) == 3 + (4 + 3 + 3) + (
        3 + 4 + 3 + 3
    )
    fixed = SensorReader(_gym_robot("Reacher-v5"))  # an arm bolted to the world: no IMU, no odometry
    assert set(fixed.blocks) == {"joint_state/position", "joint_state/velocity", "joint_state/effort"}


def test_imu_and_odometry_match_mujoco_sensors_and_the_free_joint_state():
    model, data, _, reader = _imu_sim()
    data.qvel[:6] = [0.3, -0.2, 1.0, 2.0, -1.0, 0.5]
    b = reader.blocks
    for k in range(300):  # tumbling in the air, then hitting the ground
        data.ctrl[0] = np.sin(0.05 * k)
        mujoco.mj_step(model, data)
        v = reader.read(data)
        sd = data.sensordata
        np.testing.assert_allclose(v[b["imu/angular_velocity"]], sd[0:3], atol=1e-9)
        np.testing.assert_allclose(v[b["imu/linear_acceleration"]], sd[3:6], atol=1e-9)
        np.testing.assert_allclose(v[b["imu/orientation"]], sd[[7, 8, 9, 6]], atol=1e-9)  # xyzw
        np.testing.assert_allclose(v[b["odometry/twist/linear"]], sd[10:13], atol=1e-9)
        np.testing.assert_allclose(v[b["odometry/pose/position"]], sd[13:16], atol=1e-9)
    # ground truth from the state itself, after a forward pass at the current state
    mujoco.mj_forward(model, data)
    v = reader.read(data)
    quat = data.qpos[3:7]  # w, x, y, z
    np.testing.assert_allclose(
        v[b["odometry/pose/orientation"]], np.r_[quat[1:], quat[0]] / np.linalg.norm(quat)
    )
    np.testing.assert_allclose(v[b["imu/angular_velocity"]], data.qvel[3:6], atol=1e-12)  # local frame
    world_vel = data.qvel[0:3]
    np.testing.assert_allclose(v[b["odometry/twist/linear"]], _quat_to_mat(quat).T @ world_vel, atol=1e-9)
    np.testing.assert_allclose(v[b["odometry/pose/position"]], data.qpos[0:3], atol=1e-12)
    assert v[reader.index["joint_state/position/hip"]] == data.qpos[7]
    assert v[reader.index["joint_state/effort/hip"]] == pytest.approx(10.0 * data.ctrl[0])  # gear x ctrl


def test_accelerometer_measures_specific_force_gravity_included():
    model, data, _, reader = _imu_sim()
    mujoco.mj_step(model, data)  # free fall: an accelerometer reads ~0
    acc = reader.read(data)[reader.blocks["imu/linear_acceleration"]]
    assert np.abs(acc).max() < 1e-6
    for _ in range(1500):  # lying still on the ground: +g along the world's up axis
        mujoco.mj_step(model, data)
    v = reader.read(data)
    acc = v[reader.blocks["imu/linear_acceleration"]]
    xyzw = v[reader.blocks["imu/orientation"]]
    up_in_base = _quat_to_mat(np.r_[xyzw[3], xyzw[:3]]).T @ np.array([0.0, 0.0, GRAVITY])
    np.testing.assert_allclose(acc, up_in_base, atol=0.05)
    assert np.linalg.norm(acc) == pytest.approx(GRAVITY, abs=0.05)


def test_planar_base_orientation_and_rates_follow_the_root_joints():
    env = gym.make("HalfCheetah-v5").unwrapped
    env.reset(seed=0)
    robot = RobotModel(env.model, "HalfCheetah-v5")
    qpos, qvel = env.init_qpos.copy(), np.zeros(env.model.nv)
    qpos[2], qvel[0], qvel[2] = 0.3, 1.5, -0.7  # pitch (rooty), forward speed, pitch rate
    env.set_state(qpos, qvel)  # ends in mj_forward: derived fields at this state
    s = read_sensors(robot, env.data)
    assert (s["imu/orientation/y"], s["imu/orientation/w"]) == pytest.approx((np.sin(0.15), np.cos(0.15)))
    assert s["imu/orientation/x"] == pytest.approx(0.0) and s["imu/orientation/z"] == pytest.approx(0.0)
    assert s["imu/angular_velocity/y"] == pytest.approx(-0.7)
    # world velocity (1.5, 0, 0) seen from a base pitched by 0.3 rad about y
    assert s["odometry/twist/linear/x"] == pytest.approx(1.5 * np.cos(0.3))
    assert s["odometry/twist/linear/z"] == pytest.approx(1.5 * np.sin(0.3))
    assert s["joint_state/position/bthigh"] == qpos[3]


# --- observation terms ----------------------------------------------------------------------------


def test_term_layout_and_values():
    model, data, robot, reader = _imu_sim()
    terms = ObservationTerms(
        robot,
        _terms(["joint_position", "joint_velocity", {"base_orientation": {"axes": ["z", "w"]}},
                "base_angular_velocity", "base_linear_acceleration", "base_linear_velocity", "base_height"]),
        reader,
    )  # fmt: skip
    names = [f.name for f in terms.fields]
    assert names[:4] == ["hip_pos", "hip_vel", "base_quat_z", "base_quat_w"]
    assert names[-1] == "base_height" and len(names) == 2 + 2 + 3 * 3 + 1
    assert [f.source for f in terms.fields[:3]] == [
        "joint_state/position/hip", "joint_state/velocity/hip", "imu/orientation/z"]  # fmt: skip
    assert [f.unit for f in terms.fields[:2]] == ["rad", "rad/s"]
    assert terms.fields[-1].source == "odometry/pose/position/z" and terms.fields[-1].unit == "m"
    for _ in range(20):
        mujoco.mj_step(model, data)
    obs = terms.observe(data)
    assert obs.dtype == np.float32 and obs.shape == (len(names),)
    v = reader.read(data)
    for i, f in enumerate(terms.fields):
        assert obs[i] == pytest.approx(v[reader.index[f.source]], rel=1e-6, abs=1e-6), f.name


def test_target_term_numbers_task_inputs_and_reads_the_target():
    env = gym.make("Reacher-v5").unwrapped
    env.reset(seed=3)
    robot = RobotModel(env.model, "Reacher-v5")
    terms = ObservationTerms(robot, _terms([{"joint_position": {"joints": ["joint1"]}},
                                            {"target_position": {"axes": ["x", "y"]}}]))  # fmt: skip
    assert [(f.name, f.source) for f in terms.fields] == [
        ("joint1_pos", "joint_state/position/joint1"),
        ("target_x", "vector/0"),
        ("target_y", "vector/1"),
    ]
    obs = terms.observe(env.data)
    np.testing.assert_allclose(obs[1:], env.data.qpos[2:4], atol=1e-6)  # Reacher's target slides = world xy
    assert obs[0] == pytest.approx(env.data.qpos[1])


# --- bad input --------------------------------------------------------------------------------------


def test_mjcf_without_actuators(tmp_path):
    path = tmp_path / "passive.xml"
    path.write_text('<mujoco><worldbody><body><joint name="a"/><geom size=".1"/></body></worldbody></mujoco>')
    with pytest.raises(ConfigError, match=r"passive.xml: the MJCF has no actuators"):
        RobotModel.from_mjcf(path)


def test_mjcf_with_duplicated_joint_names_or_missing(tmp_path):
    path = tmp_path / "dup.xml"
    body = '<body><joint name="knee"/><geom size=".1"/></body>'
    path.write_text(f"<mujoco><worldbody>{body}{body}</worldbody></mujoco>")
    with pytest.raises(ConfigError, match=r"dup.xml: MuJoCo cannot compile it: .*repeated name 'knee'"):
        RobotModel.from_mjcf(path)
    with pytest.raises(ConfigError, match=r"nowhere.xml: no such MJCF file"):
        RobotModel.from_mjcf(tmp_path / "nowhere.xml")


def test_unnamed_joints_and_unknown_joints_are_named():
    xml = '<mujoco><worldbody><body name="b"><joint/><geom size=".1"/></body></worldbody></mujoco>'
    with pytest.raises(ConfigError, match=r"joint #0 \(in body 'b'\) has no name"):
        RobotModel(mujoco.MjModel.from_xml_string(xml), "unnamed")
    robot = _gym_robot("HalfCheetah-v5")
    with pytest.raises(
        ConfigError, match=r"'bknee' is not a joint of HalfCheetah-v5; available joints: bthigh, bshin"
    ):
        robot.joint("bknee", "joints[0]")
    reacher = _gym_robot("Reacher-v5")
    with pytest.raises(
        ConfigError, match=r"joint 'target_x' of Reacher-v5 has no actuator; actuated joints: joint0"
    ):
        reacher.actuator_for("target_x")


def test_bad_terms():
    robot = _gym_robot("Reacher-v5")
    with pytest.raises(
        ConfigError, match=r"terms\[0\]: unknown term 'joint_angle'; choose one of: joint_position"
    ):
        _terms(["joint_angle"])
    with pytest.raises(ConfigError, match=r"fixed base \(no IMU or odometry\)"):
        ObservationTerms(robot, _terms(["base_orientation"]))
    with pytest.raises(ConfigError, match=r"joints: \['target_x'\] are not joints of the robot"):
        ObservationTerms(robot, _terms([{"joint_position": {"joints": ["target_x"]}}]))
    with pytest.raises(ConfigError, match=r"axes: \['q'\] not allowed; choose from x, y, z"):
        ObservationTerms(robot, _terms([{"target_position": {"axes": ["q"]}}]))
    with pytest.raises(ConfigError, match=r"body: no body 'goal' in Reacher-v5; bodies: body0"):
        ObservationTerms(robot, _terms([{"target_position": {"body": "goal"}}]))
    with pytest.raises(ConfigError, match=r"samples no velocity command"):
        ObservationTerms(_gym_robot("Ant-v5"), _terms(["velocity_command"]))


def test_sensor_reader_of_an_env_is_the_one_its_observation_uses():
    from rnn_control.envs.robots.sensors import sensor_reader
    from rnn_control.envs.wrappers import apply_wrapper

    wrapped = apply_wrapper(apply_wrapper(gym.make("Ant-v5"), "joint_space", {"terms": ["joint_position"]}),
                            "obs_noise", {"std": 0.0})  # fmt: skip
    reader = sensor_reader(wrapped)
    assert reader is wrapped.get_wrapper_attr("terms").reader
    plain = sensor_reader(gym.make("HalfCheetah-v5"))  # no joint_space: built from the model
    assert plain.joint_names[0] == "bthigh" and "imu/orientation/w" in plain.index
    with pytest.raises(ConfigError, match=r"CartPoleEnv is not a MuJoCo env"):
        sensor_reader(gym.make("CartPole-v1"))
