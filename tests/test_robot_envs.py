"""Joint-space envs (real MuJoCo): the joint_space wrapper's declared layout, its way into
checkpoints and exported bundles, the generic JointSpaceEnv built from an MJCF file (PD loop at
the physics rate, effort clipping, velocity and effort modes), the robot section's bad inputs, and
the shipped robot scenarios."""

from __future__ import annotations

import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from rnn_control.config import from_dict
from rnn_control.contract import IOLayout, bundle_layout
from rnn_control.envs import describe_env, make_env, make_vec_env
from rnn_control.envs.actions import command_to_env_action
from rnn_control.envs.wrappers import apply_wrapper
from rnn_control.errors import ConfigError
from rnn_control.scenario import EnvConfig, load_scenario

ROOT = Path(__file__).resolve().parent.parent
ARM = ROOT / "sim" / "robots" / "arm3.xml"
ROBOT_SCENARIOS = [
    "half_cheetah_full", "half_cheetah_imu", "half_cheetah_novel", "half_cheetah_sim2real", "hopper_full",
    "hopper_imu", "walker2d_full", "walker2d_imu", "ant_full", "ant_imu", "reacher_full", "reacher_novel",
    "arm3_reach",
]  # fmt: skip
TINY = {
    "model": {"hidden_size": 8, "head_hidden": []},
    "policy": {"total_steps": 128, "num_envs": 2, "rollout_steps": 64, "chunk_length": 16, "eval_every": 0,
               "eval_episodes": 1, "num_minibatches": 2, "epochs": 1, "head_hidden": []},
}  # fmt: skip


def _joint_space(env_id: str, terms: list) -> gym.Env:
    return apply_wrapper(gym.make(env_id), "joint_space", {"terms": terms})


def _arm(joints: list[dict] | None = None, **extra) -> dict:
    """A robot section for sim/robots/arm3.xml (position mode unless told)."""
    joints = joints or [
        {"name": "shoulder", "default": 0.0, "scale": 2.5, "kp": 6.0, "kd": 0.7},
        {"name": "elbow", "default": 0.0, "scale": 2.5, "kp": 4.0, "kd": 0.3},
        {"name": "wrist", "default": 0.0, "scale": 2.0, "kp": 2.0, "kd": 0.15},
    ]
    return {"mjcf": str(ARM), "frame_skip": 10, "joints": joints,
            "observation": ["joint_position", "joint_velocity"], **extra}  # fmt: skip


def _arm_env(robot: dict, **env) -> gym.Env:
    return make_env(from_dict(EnvConfig, {"robot": robot, **env}, "env"), seed=0)


# --- the joint_space wrapper ----------------------------------------------------------------------


def test_joint_space_declares_joint_names_torques_and_gears():
    env = _joint_space("HalfCheetah-v5", ["joint_position", "joint_velocity", "base_height"])
    spaces = describe_env(env)
    obs, act = spaces["fields"]["observation"], spaces["fields"]["action"]
    assert spaces["observation"]["shape"] == [13] and len(obs) == 13
    assert obs[0] == {"name": "bthigh_pos", "source": "joint_state/position/bthigh", "unit": "rad"}
    assert (
        obs[6]["source"] == "joint_state/velocity/bthigh" and obs[12]["source"] == "odometry/pose/position/z"
    )
    assert [a["target"] for a in act] == [
        f"joint/{j}" for j in ("bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot")
    ]
    assert [a["scale"] for a in act] == [120.0, 90.0, 60.0, 120.0, 60.0, 30.0]  # the gears
    assert act[0]["mode"] == "effort" and (act[0]["low"], act[0]["high"], act[0]["effort_limit"]) == (
        -120,
        120,
        120,
    )
    assert act[0]["unit"] == "N*m"
    o, _ = env.reset(seed=0)
    data = env.unwrapped.data
    np.testing.assert_allclose(o[:6], data.qpos[3:9], atol=1e-6)  # joint positions, by name
    np.testing.assert_allclose(o[6:12], data.qvel[3:9], atol=1e-6)
    assert o[12] == pytest.approx(data.xpos[1][2])  # the torso's height


def test_joint_space_keeps_ant_actuator_order_and_the_envs_reward():
    env = _joint_space("Ant-v5", ["joint_position"])
    act = describe_env(env)["fields"]["action"]
    assert [a["target"] for a in act][:3] == ["joint/hip_4", "joint/ankle_4", "joint/hip_1"]
    plain = gym.make("Ant-v5")
    env.reset(seed=1)
    plain.reset(seed=1)
    a = np.full(8, 0.3, dtype=np.float32)
    _, r1, t1, _, _ = env.step(a)
    _, r2, t2, _, _ = plain.step(a)
    assert r1 == r2 and t1 == t2


def test_mask_velocity_maps_the_declared_layout():
    env = _joint_space(
        "Hopper-v5", ["base_orientation", "base_angular_velocity", "joint_position", "joint_velocity"]
    )
    masked = apply_wrapper(env, "mask_velocity", {})
    fields = describe_env(masked)["fields"]["observation"]
    assert [f["name"] for f in fields] == ["base_quat_x", "base_quat_y", "base_quat_z", "base_quat_w",
                                           "thigh_joint_pos", "leg_joint_pos", "foot_joint_pos"]  # fmt: skip
    o, _ = masked.reset(seed=0)
    assert o.shape == (7,)
    explicit = apply_wrapper(env, "mask_velocity", {"keep": [7, 3]})
    assert [f["name"] for f in describe_env(explicit)["fields"]["observation"]] == [
        "thigh_joint_pos",
        "base_quat_w",
    ]


def test_wrapper_order_and_unmapped_layout_changes_are_refused():
    noisy = apply_wrapper(gym.make("HalfCheetah-v5"), "obs_noise", {"std": 0.01})
    with pytest.raises(ConfigError, match=r"joint_space: must come before ObsNoise"):
        apply_wrapper(noisy, "joint_space", {"terms": ["joint_position"]})
    env = _joint_space("HalfCheetah-v5", ["joint_position"])
    stacked = gym.wrappers.FrameStackObservation(gym.wrappers.FlattenObservation(env), 2)
    stacked = gym.wrappers.FlattenObservation(stacked)
    with pytest.raises(ConfigError, match=r"declares 6 observation .* spaces have 12 .* without mapping"):
        describe_env(stacked)
    with pytest.raises(ConfigError, match=r"joint_space: CartPoleEnv is not a MuJoCo env"):
        apply_wrapper(gym.make("CartPole-v1"), "joint_space", {"terms": ["joint_position"]})


def test_declared_layout_flows_into_an_exported_bundle(tmp_path):
    from rnn_control.export.exporter import export_checkpoint
    from rnn_control.runtime import read_bundle_metadata
    from rnn_control.train.policy.algorithms import train_policy

    sc = load_scenario("half_cheetah_imu", {**TINY, "env": {"num_envs": 2}})
    res = train_policy(sc, tmp_path / "run", progress=False, tensorboard=False)
    meta = read_bundle_metadata(export_checkpoint(res.checkpoint, tmp_path / "hc.onnx").path)
    assert [f.source for f in meta.observation][:5] == [
        "imu/orientation/y", "imu/orientation/w", "imu/angular_velocity/y",
        "imu/linear_acceleration/x", "imu/linear_acceleration/z"]  # fmt: skip
    assert meta.observation[5].source == "joint_state/position/bthigh" and meta.observation[5].unit == "rad"
    assert meta.action[0].target == "joint/bthigh" and {a.mode for a in meta.action} == {"effort"}
    assert meta.action[1].scale == 90.0 and meta.action[1].effort_limit == 90.0
    assert meta.control_period == pytest.approx(0.05)


# --- JointSpaceEnv: your own robot from an MJCF file ------------------------------------------------


def test_position_mode_pd_loop_reaches_a_constant_target():
    env = _arm_env(_arm())
    env.reset(seed=0)
    action = np.array([0.2, -0.3, 0.4], dtype=np.float32)
    for _ in range(40):  # 2 s
        env.step(action)
    inner = env.unwrapped
    target = np.array([0.5, -0.75, 0.8])  # default + scale x output
    np.testing.assert_allclose(inner.command, target)
    np.testing.assert_allclose(inner.data.qpos[:3], target, atol=5e-3)
    assert np.abs(inner.data.qvel[:3]).max() < 0.05 and np.abs(inner.effort).max() < 0.05


def test_effort_is_clipped_to_the_limit_at_every_physics_step():
    joints = [{"name": "shoulder", "kp": 1000.0, "kd": 0.0, "scale": 2.0, "effort_limit": 2.0},
              {"name": "elbow", "kp": 1000.0, "kd": 0.0, "scale": 2.0}]  # fmt: skip
    env = _arm_env(_arm(joints, reset_noise=0.0))
    env.reset(seed=0)
    env.step(np.array([1.0, -1.0], dtype=np.float32))
    inner = env.unwrapped
    np.testing.assert_allclose(inner.effort, [2.0, -3.0])  # the section's limit; the motor's ctrlrange
    reading = inner.reader.as_dict(inner.reader.read(inner.data))
    assert reading["joint_state/effort/shoulder"] == pytest.approx(2.0)
    assert reading["joint_state/effort/elbow"] == pytest.approx(-3.0)
    assert reading["joint_state/effort/wrist"] == 0.0  # not commanded: ctrl stays 0


def test_velocity_and_effort_modes():
    joints = [{"name": "shoulder", "mode": "velocity", "kd": 2.0, "scale": 1.0},
              {"name": "elbow", "mode": "effort", "scale": 0.5}]  # fmt: skip
    env = _arm_env(_arm(joints))
    env.reset(seed=0)
    for _ in range(8):
        env.step(np.array([0.5, 0.4], dtype=np.float32))
    inner = env.unwrapped
    assert inner.data.qvel[0] == pytest.approx(0.5, abs=0.03)  # tracks 0.5 rad/s
    assert inner.effort[1] == pytest.approx(0.2)  # effort mode: 0.5 x 0.4 N*m
    assert inner.reader.read(inner.data)[inner.reader.index["joint_state/effort/elbow"]] == pytest.approx(0.2)
    act = describe_env(env)["fields"]["action"]
    assert (act[0]["mode"], act[0]["kd"], act[0]["low"], act[0]["high"], act[0]["unit"]) == (
        "velocity", 2.0, -1.0, 1.0, "rad/s")  # fmt: skip
    assert (act[1]["mode"], act[1]["scale"], act[1]["effort_limit"], act[1]["unit"]) == (
        "effort",
        0.5,
        3.0,
        "N*m",
    )


def test_arm3_declares_the_whole_joint_contract_and_commands_invert():
    env = make_env(load_scenario("arm3_reach").env, seed=0)
    spaces = describe_env(env)
    act = spaces["fields"]["action"]
    assert [a["target"] for a in act] == ["joint/shoulder", "joint/elbow", "joint/wrist"]
    a0 = act[0]
    assert (a0["mode"], a0["default_position"], a0["offset"], a0["kp"], a0["kd"]) == (
        "position",
        0.0,
        0.0,
        6.0,
        0.7,
    )
    assert (a0["low"], a0["high"], a0["scale"], a0["effort_limit"], a0["safe"]) == (-2.8, 2.8, 2.5, 4.0, 0.0)
    _, action = bundle_layout(
        IOLayout(), spaces["observation"]["shape"][0], spaces["action"], fields=spaces["fields"]
    )
    output = np.array([0.3, -0.2, 0.1])
    command = np.array([f.offset + f.scale * o for f, o in zip(action, output)])
    back = command_to_env_action(command, env.action_space, np.array([f.scale for f in action]),
                                 np.array([f.offset for f in action]))  # fmt: skip
    np.testing.assert_allclose(back, output, atol=1e-6)  # what the sim bridge sends is what the policy output
    obs = spaces["fields"]["observation"]
    assert [o["source"] for o in obs][-2:] == ["vector/0", "vector/1"]
    o, _ = env.reset(seed=4)
    assert o[-2:] == pytest.approx(env.unwrapped.data.mocap_pos[0][:2], abs=1e-6)  # the target moved there


def test_arm3_episode_time_limit_reward_and_vector_envs():
    venv = make_vec_env(load_scenario("arm3_reach").env, num_envs=2, seed=0)
    total, steps = np.zeros(2), 0
    while True:
        _, r, term, trunc, _ = venv.step(np.zeros((2, 3), dtype=np.float32))
        total += r
        steps += 1
        if trunc.any():
            break
    assert steps == 50 and not term.any()  # 2.5 s at 50 ms
    assert np.all(total < 0) and np.all(total > -50 * 0.8)  # minus the distance (reach 0.45 m + 0.42 m)


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change,message",
    [
        ({"joints": [{"name": "knee", "kp": 1.0, "kd": 0.1}]},
         r"robot.joints\[0\].name: 'knee' is not a joint of arm3.xml; available joints: shoulder, elbow"),
        ({"joints": [{"name": "elbow", "kp": 1.0, "kd": 0.1}, {"name": "elbow", "kp": 1.0, "kd": 0.1}]},
         r"joints: duplicated joint names \['elbow'\]"),
        ({"joints": [{"name": "elbow", "kp": -1.0, "kd": 0.1}]},
         r"kp: gains must be finite and >= 0, got -1.0 for joint 'elbow'"),
        ({"joints": [{"name": "elbow", "kp": 1.0}]},
         r"kp/kd: position mode needs both gains for joint 'elbow'"),
        ({"joints": [{"name": "elbow", "kp": 1.0, "kd": 0.1, "default": 3.0}]},
         r"default 3.0 of joint 'elbow' is outside its range \[-2.6, 2.6\]"),
        ({"mjcf": "robots/none.xml"}, r"robot.mjcf: MJCF file 'robots/none.xml' not found \(looked in "),
        ({"target": {"body": "fingertip"}}, r"target.body: body 'fingertip' must be a mocap body"),
        ({"reward": [{"reach_target": {"body": "hand", "target": "goal"}}]},
         r"reward\[0\].reach_target.target: no body 'goal' in arm3.xml; bodies: upper_arm"),
        ({"termination": [{"fall": {}}]}, r"termination\[0\].fall.min_height: fall needs it"),
        ({"termination": [{"tilt": {"max_angle": 0.5}}]}, r"arm3.xml has a fixed base"),
        ({"observation": ["joint_angle"]}, r"observation\[0\]: unknown term 'joint_angle'"),
    ],
)  # fmt: skip
def test_robot_section_bad_inputs_name_the_joint_or_key(change, message):
    with pytest.raises(ConfigError, match=message):
        _arm_env({**_arm(), **change})


def test_robot_section_refuses_another_id_and_servos_and_passive_models(tmp_path):
    with pytest.raises(
        ConfigError, match=r"id: a robot section builds the joint-space env rnn_control/JointSpace-v0"
    ):
        from_dict(EnvConfig, {"id": "Hopper-v5", "robot": _arm()}, "env")
    servo = tmp_path / "servo.xml"
    servo.write_text(
        ARM.read_text().replace(
            '<motor name="elbow" joint="elbow"', '<position name="elbow" joint="elbow" kp="5"'
        )
    )
    with pytest.raises(ConfigError, match=r"joints\[1\] \(elbow\): actuator 'elbow' is a servo"):
        _arm_env(_arm(mjcf=str(servo)))
    passive = tmp_path / "passive.xml"
    text = ARM.read_text()
    passive.write_text(text[: text.index("<actuator>")] + "</mujoco>\n")
    with pytest.raises(ConfigError, match=r"passive.xml: the MJCF has no actuators"):
        _arm_env(_arm(mjcf=str(passive)))


def test_mjcf_path_is_resolved_from_the_scenario_folder(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    shutil.copy(ARM, tmp_path / "models" / "my_arm.xml")
    robot = {**_arm(), "mjcf": "models/my_arm.xml"}
    import yaml

    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({"env": {"robot": robot}}))
    monkeypatch.chdir(ROOT)  # elsewhere: only the scenario's folder has models/
    sc = load_scenario(tmp_path / "mine.yaml")
    assert sc.env.id == "rnn_control/JointSpace-v0" and sc.env.robot.scenario_dir == str(tmp_path.resolve())
    env = make_env(sc.env)
    assert env.unwrapped.robot.where == "my_arm.xml"


# --- shipped scenarios ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ROBOT_SCENARIOS)
def test_shipped_robot_scenarios_build_and_declare_joint_layouts(name):
    sc = load_scenario(name)
    env = make_env(sc.env, seed=0)
    spaces = describe_env(env)
    observation, action = bundle_layout(sc.io, spaces["observation"]["shape"][0], spaces["action"],
                                        fields=spaces["fields"])  # fmt: skip
    assert all(a.target.startswith("joint/") and a.mode for a in action)
    assert not any(o.source.startswith("vector/") for o in observation if "target" not in o.name)
    measured_velocity = ("joint_state/velocity/", "odometry/twist/")
    if name.endswith(("_imu", "_novel")):  # partially observed: a gyro at most, no velocities
        assert not any(o.source.startswith(measured_velocity) for o in observation)
        if name.endswith("_imu"):
            assert any(o.source.startswith("imu/") for o in observation)
        else:  # velocities masked: not even a gyro or an accelerometer
            assert not any(o.source.startswith(("imu/angular_velocity", "imu/linear_acceleration"))
                           for o in observation)  # fmt: skip
    o, _ = env.reset(seed=0)
    o, *_ = env.step(env.action_space.sample())
    assert o.shape == env.observation_space.shape and np.isfinite(o).all()


def test_position_mode_contract_in_an_exported_bundle(tmp_path):
    from rnn_control.export.exporter import export_checkpoint
    from rnn_control.runtime import read_bundle_metadata
    from rnn_control.train.policy.algorithms import train_policy

    sc = load_scenario("arm3_reach", TINY)
    res = train_policy(sc, tmp_path / "run", progress=False, tensorboard=False)
    meta = read_bundle_metadata(export_checkpoint(res.checkpoint, tmp_path / "arm.onnx").path)
    assert [o.source for o in meta.observation] == [
        *(f"joint_state/{k}/{j}" for k in ("position", "velocity") for j in ("shoulder", "elbow", "wrist")),
        "vector/0", "vector/1"]  # fmt: skip
    wrist = meta.action[2]
    assert (wrist.target, wrist.mode, wrist.kp, wrist.kd, wrist.default_position) == (
        "joint/wrist",
        "position",
        2.0,
        0.15,
        0.0,
    )
    assert (wrist.low, wrist.high, wrist.scale, wrist.offset, wrist.effort_limit) == (
        -2.4,
        2.4,
        2.0,
        0.0,
        1.5,
    )
    assert (
        meta.control_period == pytest.approx(0.05)
        and meta.scenario["env"]["robot"]["mjcf"] == "robots/arm3.xml"
    )


HOPPER_XML = """<mujoco><option timestep="0.004"/>
<worldbody><geom type="plane" size="5 5 .1"/>
 <body name="base" pos="0 0 0.6"><freejoint name="root"/><geom type="box" size=".15 .1 .05" mass="2"/>
  <body name="leg" pos="0 0 -.05"><joint name="hip" axis="0 1 0" range="-1 1"/>
   <geom type="capsule" fromto="0 0 0 0 0 -.3" size=".03"/></body>
 </body></worldbody>
<actuator><motor joint="hip" gear="5" ctrlrange="-1 1"/></actuator>
</mujoco>"""


def test_floating_robot_terms_rewards_and_terminations(tmp_path):
    (tmp_path / "hopper.xml").write_text(HOPPER_XML)
    robot = {
        "mjcf": str(tmp_path / "hopper.xml"),
        "frame_skip": 5,
        "joints": [{"name": "hip", "mode": "effort", "scale": 2.0}],
        "observation": ["base_height", {"velocity_command": {"axes": ["linear/x", "angular/z"]}}],
        "reward": [
            {"alive": {"weight": 2.0}},
            {"upright": {}},
            {"velocity_tracking": {"weight": 1.0, "sigma": 0.5}},
            {"torque": {"weight": 0.1}},
            {"energy": {"weight": 0.01}},
        ],
        "termination": [{"fall": {"min_height": 0.3}}, {"tilt": {"max_angle": 1.0}}],
        "command": {"linear/x": [0.5, 1.0]},
    }
    env = _arm_env(robot)
    spaces = describe_env(env)
    assert [(o["name"], o["source"]) for o in spaces["fields"]["observation"]] == [
        ("base_height", "odometry/pose/position/z"),
        ("cmd_linear_x", "twist/linear/x"),
        ("cmd_angular_z", "twist/angular/z"),
    ]
    o, _ = env.reset(seed=2)
    inner = env.unwrapped
    assert 0.5 <= o[1] <= 1.0 and o[2] == 0.0 and o[0] == pytest.approx(0.6)
    _, reward, terminated, _, _ = env.step(np.array([0.5], dtype=np.float32))
    d, s = inner.data, inner.reader.as_dict(inner.reader.read(inner.data))
    err = (s["odometry/twist/linear/x"] - o[1]) ** 2 + s["odometry/twist/linear/y"] ** 2
    err += s["odometry/twist/angular/z"] ** 2
    expected = 2.0 + d.xmat[1][8] + np.exp(-err / 0.5) - 0.1 * 1.0**2 - 0.01 * abs(1.0 * d.qvel[6])
    assert inner.effort[0] == pytest.approx(1.0) and reward == pytest.approx(expected)
    assert inner.rewards.last["alive"] == 2.0 and not terminated
    for _ in range(200):  # it has no way to stand: it falls over or below 0.3 m
        *_, terminated, _, _ = env.step(np.array([0.0], dtype=np.float32))
        if terminated:
            break
    assert terminated and (d.xpos[1][2] < 0.3 or d.xmat[1][8] < np.cos(1.0))


def test_the_pd_loop_runs_at_every_physics_step():
    import copy

    import mujoco

    env = _arm_env(_arm())
    env.reset(seed=1)
    inner = env.unwrapped
    m, ref = inner.model, copy.copy(inner.data)  # a replay of one control step, by hand
    kp, kd, target = np.array([6.0, 4.0, 2.0]), np.array([0.7, 0.3, 0.15]), np.array([2.5, -1.25, 1.0])
    for _ in range(10):
        effort = np.clip(kp * (target - ref.qpos[:3]) - kd * ref.qvel[:3], [-4, -3, -1.5], [4, 3, 1.5])
        ref.ctrl[:] = effort
        mujoco.mj_step(m, ref)
    env.step(np.array([1.0, -0.5, 0.5], dtype=np.float32))
    np.testing.assert_allclose(inner.data.qpos, ref.qpos, atol=1e-12)
    np.testing.assert_allclose(inner.effort, effort, atol=1e-12)
