"""Recording over real DDS: the recorder node (a separate process) writes what an in-test publisher
sends to a rosbag2 MCAP folder; it is read back by our reader and checked by an independent MCAP
reader (the ``mcap`` package) and against the metadata.yaml that rosbag2 expects."""

from __future__ import annotations

import signal

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.ros

rclpy = pytest.importorskip("rclpy")


def _publish(n: int):
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from tests.ros_support import probe

    with probe("bag_publisher") as p:
        js = p.node.create_publisher(JointState, "/rec/joint_states", 10)
        cmd = p.node.create_publisher(Float64MultiArray, "/rec/command", 10)
        p.spin_until(
            lambda: js.get_subscription_count() > 0 and cmd.get_subscription_count() > 0,
            30,
            "the recorder's subscriptions",
        )
        p.spin_for(0.5)
        for i in range(n):
            msg = JointState()
            msg.header.stamp = p.node.get_clock().now().to_msg()
            msg.name = ["hinge"]
            msg.position = [float(i)]
            msg.velocity = [0.5 * i]
            js.publish(msg)
            p.spin_for(0.005)
            cmd.publish(Float64MultiArray(data=[10.0 * i]))
            p.spin_for(0.015)
        p.spin_for(0.5)
    rclpy.try_shutdown()  # the next test's rclpy.init() must find no context


def test_a_recording_over_dds_reads_back(tmp_path):
    from tests.ros_support import NodeProcess

    out = tmp_path / "rec"
    node = NodeProcess(
        "bag_recorder",
        {"output": str(out), "topics": ["/rec/joint_states", "/rec/command"], "compression": "zstd"},
        tmp_path,
    )
    try:
        _publish(60)
    finally:
        code = node.stop(signal.SIGINT)
    log = node.log()
    assert code == 0, log
    assert "closed" in log and "/rec/joint_states: 60" in log, log

    meta = yaml.safe_load((out / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    # what rosbag2 (ros2 bag info) requires of a version-9 metadata file
    assert meta["version"] == 9 and meta["storage_identifier"] == "mcap"
    assert meta["relative_file_paths"] == ["rec.mcap"] and meta["message_count"] == 120
    assert isinstance(meta["custom_data"], dict)  # a null map is refused by rosbag2's YAML decoder
    for key in ("duration", "starting_time", "files", "compression_format", "compression_mode", "ros_distro"):
        assert key in meta
    counts = {t["topic_metadata"]["name"]: t["message_count"] for t in meta["topics_with_message_count"]}
    assert counts == {"/rec/joint_states": 60, "/rec/command": 60}
    types = {
        t["topic_metadata"]["name"]: t["topic_metadata"]["type"] for t in meta["topics_with_message_count"]
    }
    assert types["/rec/joint_states"] == "sensor_msgs/msg/JointState"

    import mcap.reader

    with open(out / "rec.mcap", "rb") as f:
        reader = mcap.reader.make_reader(f)
        summary = reader.get_summary()
        assert {s.encoding for s in summary.schemas.values()} == {"ros2msg"}
        assert {c.compression for c in summary.chunk_indexes} == {"zstd"}
        assert summary.statistics.message_count == 120
        assert sum(1 for _ in reader.iter_messages()) == 120

    from rnn_control.bags import load_bags
    from tests.bagtools import config

    cfg = config(
        time_base="log_time",
        period=0.02,
        heldout_fraction=0.0,
        observation=[
            {"topic": "/rec/joint_states", "field": "joint_state/position/hinge"},
            {"topic": "/rec/joint_states", "field": "joint_state/velocity/hinge"},
        ],
        action=[{"topic": "/rec/command", "field": "vector/0"}],
        resample="reference",
        max_gap=10,
    )
    data = load_bags([out], cfg)
    assert data.report.topics["/rec/joint_states"].messages == 60
    obs = np.concatenate([e.obs for e in data.train])
    np.testing.assert_allclose(obs[:, 1], 0.5 * obs[:, 0])
    # each step's command is the reply to its observation: 10 x the position
    for e in data.train:
        np.testing.assert_allclose(e.act[:, 0], 10.0 * e.obs[:-1, 0])


def test_the_record_command_refuses_an_existing_folder(tmp_path):
    from tests.cli import run_cli

    (tmp_path / "exists").mkdir()
    done = run_cli("record", "-o", str(tmp_path / "exists"), "/x", cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and "exists already" in done.stderr
