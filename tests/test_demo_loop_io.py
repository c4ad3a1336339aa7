"""The demo's closed loop chooses its topics and node parameters from the bundle's IO: a
vector-only bundle runs exactly as before; a joint-space bundle gets one topic per sensor group,
``trigger: all``, the monitor on the same groups, the recorder on the policy node's assembled
observation, and a latency measured from the bridge's JointState. No training, no ROS."""

from __future__ import annotations

import importlib.util
import json
from types import SimpleNamespace

import numpy as np
import pytest

from rnn_control.contract.metadata import ActionField, ObservationField
from rnn_control.demo.closed_loop import node_commands, step_latencies_ms, summarize
from rnn_control.demo.loop_io import DEFAULT_TOPICS, loop_io, prediction_columns
from rnn_control.demo.run_folder import RunFolder
from rnn_control.demo.settings import DemoSettings
from rnn_control.demo.stages import DemoContext


def _meta(sources: list[tuple[str, str]], actions: list[tuple[str, str]]) -> SimpleNamespace:
    return SimpleNamespace(
        observation=[ObservationField(name=n, source=s) for n, s in sources],
        action=[ActionField(name=n, target=t, low=-1.0, high=1.0) for n, t in actions],
    )


PENDULUM = _meta([("cos_theta", "vector/0"), ("sin_theta", "vector/1")], [("torque", "vector/0")])
JOINTS = ("shoulder", "elbow", "wrist")
ARM = _meta(
    [(f"{j}_pos", f"joint_state/position/{j}") for j in JOINTS]
    + [(f"{j}_vel", f"joint_state/velocity/{j}") for j in JOINTS]
    + [("target_x", "vector/0"), ("target_y", "vector/1")],
    [(j, f"joint/{j}") for j in JOINTS],
)


def _args(cmds, name: str) -> list[str]:
    return next(args for n, _, args in cmds if n == name)


def _params(args: list[str]) -> dict[str, str]:
    return dict(a.split(":=", 1) for a in args if ":=" in a and not a.startswith("__"))


def _ctx(tmp_path) -> DemoContext:
    return DemoContext(DemoSettings(), None, RunFolder(tmp_path / "run"))  # type: ignore[arg-type]


def test_vector_bundle_gets_exactly_the_nodes_parameters_of_before(tmp_path):
    ctx = _ctx(tmp_path)
    io = loop_io(PENDULUM)
    assert not io.robot and io.observation_sources == ["vector/0", "vector/1"]
    assert io.observation_names == ["cos_theta", "sin_theta"] and io.command_names == ["torque"]
    cmds = node_commands(ctx, io)
    run = ctx.run
    policy, dynamics = str(run.policy_bundle.resolve()), str(run.dynamics_bundle.resolve())
    out = run.closed_loop_dir.resolve()
    p = lambda k, v: ["-p", f"{k}:={v}"]  # noqa: E731
    before = [  # the demo's node commands before bundles chose them (pendulum unchanged)
        ("recorder", "rnn_control.ros.topic_recorder", [
            *p("output", out / "recording.json"), *p("episodes", 6), *p("observation_topic", "observation"),
            *p("command_topic", "command"), *p("prediction_topic", "/dynamics_monitor/prediction"),
            *p("episode_return_topic", "/sim_bridge/episode_return"), *p("bag", out / "recording"),
        ]),
        ("dynamics_monitor", "rnn_control.ros.dynamics_monitor_node", [
            "-r", "__node:=dynamics_monitor", *p("bundle", dynamics),
            *p("vector_topic", "observation"), *p("command_topic", "command"),
        ]),
        ("policy_node", "rnn_control.ros.policy_node", [
            "-r", "__node:=policy_node", *p("bundle", policy), *p("autostart", "true"), *p("mode", "event"),
            *p("fade_in", 0.0), *p("vector_topic", "observation"), *p("command_topic", "command"),
        ]),
        ("sim_bridge", "rnn_control.ros.sim_bridge_node", [
            "-r", "__node:=sim_bridge", *p("bundle", policy), *p("mode", "realtime"),
            *p("seed", 999), *p("max_episodes", 6), *p("policy_reset_service", "/policy_node/reset"),
            *p("reset_services", "[/dynamics_monitor/reset]"),
            *p("vector_topic", "observation"), *p("command_topic", "command"),
        ]),
    ]  # fmt: skip
    assert cmds == before


def test_joint_space_bundle_gets_a_topic_per_group_trigger_all_and_a_jointstate_latency(tmp_path):
    io = loop_io(ARM)
    assert io.robot and io.topics == {"joint_state": "joint_states", "vector": "observation"}
    assert io.observation_topic == "/policy_node/observation"
    assert io.observation_sources == [f.source for f in ARM.observation]
    assert io.latency_topic == "joint_states" and io.latency_from.startswith("JointState published")
    cmds = node_commands(_ctx(tmp_path), io)
    policy = _params(_args(cmds, "policy_node"))
    assert policy["trigger"] == "all" and policy["publish_debug"] == "true" and policy["mode"] == "event"
    for node in ("policy_node", "dynamics_monitor", "sim_bridge"):  # the same groups on the same topics
        params = _params(_args(cmds, node))
        assert params["joint_state_topic"] == "joint_states" and params["vector_topic"] == "observation"
        assert params["command_topic"] == "command"
    recorder = _params(_args(cmds, "recorder"))
    assert recorder["observation_topic"] == "/policy_node/observation"
    assert recorder["joint_state_topic"] == "joint_states"
    assert _params(_args(cmds, "sim_bridge"))["policy_reset_service"] == "/policy_node/reset"


def test_imu_odometry_robot_reads_every_group():
    meta = _meta(
        [("qw", "imu/orientation/w"), ("vx", "odometry/twist/linear/x"), ("q0", "joint_state/position/a")],
        [("a", "joint/a")],
    )
    io = loop_io(meta)
    assert io.topics == {"imu": "imu", "odometry": "odom", "joint_state": "joint_states"}
    assert {"imu_topic", "odometry_topic", "joint_state_topic"} <= set(io.monitor_params)


@pytest.mark.skipif(importlib.util.find_spec("rclpy") is None, reason="needs rclpy")
def test_default_topics_are_the_nodes_defaults():
    from rnn_control.ros.parameters import sensor_topic_parameters

    table = sensor_topic_parameters()
    assert {g: table[f"{g}_topic"][0] for g in DEFAULT_TOPICS} == DEFAULT_TOPICS


def test_prediction_columns_follow_the_sources():
    commands = [(f"cmd_{j}", f"last_action/{i}") for i, j in enumerate(JOINTS)]
    dyn = _meta(
        [(f.name, f.source) for f in ARM.observation] + commands, [("x", f"vector/{i}") for i in range(8)]
    )
    assert prediction_columns([f.source for f in ARM.observation], dyn) == list(range(8))
    shuffled = [f.source for f in ARM.observation][::-1]
    assert prediction_columns(shuffled, dyn) == list(range(7, -1, -1))
    assert prediction_columns(["vector/0", "vector/1"], dyn) is None  # a pendulum-style recording


def test_latency_runs_from_the_jointstate_when_recorded():
    ms = 1_000_000
    rec = {
        "sensor_times": [0, 50 * ms, 100 * ms],  # bridge JointState
        "observation_times": [1 * ms, 51 * ms, 101 * ms],  # the policy node's ~/observation, after its step
        "command_times": [2 * ms, 53 * ms, 103 * ms],
        "observations": [[0.0]] * 3, "commands": [[0.0]] * 3,
        "returns": [-1.0, -2.0], "return_times": [60 * ms, 110 * ms],
        "latency_from": "JointState published by the sim bridge",
    }  # fmt: skip
    np.testing.assert_allclose(step_latencies_ms(rec), [2.0, 3.0, 3.0])
    summary = summarize(rec, 0.05)
    assert summary["latency_from"].startswith("JointState") and summary["returns"] == [-2.0]
    rec.pop("sensor_times")
    np.testing.assert_allclose(step_latencies_ms(rec), [1.0, 2.0, 2.0])


def test_short_episodes_get_warmups_covering_five_seconds(tmp_path):
    from rnn_control.demo.closed_loop import warmup_episodes

    ctx = _ctx(tmp_path)
    assert warmup_episodes(ctx, 0.05) == 1  # no evaluation yet
    path = ctx.run.evaluate_dir / "evaluation.json"
    path.parent.mkdir(parents=True)
    for lengths, expected in (([100, 100], 1), ([200], 1), ([50, 50], 2), ([30], 4)):
        path.write_text(json.dumps({"policy_lengths": lengths}))
        assert warmup_episodes(ctx, 0.05) == expected, lengths
    cmds = node_commands(ctx, loop_io(ARM), warmup=2)
    assert _params(_args(cmds, "sim_bridge"))["seed"] == "998"  # episode k of the comparison: 1000 + k
    assert _params(_args(cmds, "sim_bridge"))["max_episodes"] == "7"
    assert summarize({"returns": [-9.0, -8.0, -1.0], "warmup_episodes": 2}, 0.05)["returns"] == [-1.0]
