"""Record a closed loop's topics to a JSON file: what ``rnn-control demo`` reports on.

Subscribes to the observation (std_msgs/Float64MultiArray), command (Float64MultiArray) and
dynamics-prediction (Float64MultiArray) topics, the sim bridge's episode returns (std_msgs/Float64,
latched: subscribed with ``result_qos``) and ``/diagnostics``, keeps every message with the
middleware's source timestamp (when its publisher sent it, system clock, ns), and writes
everything to ``output`` (atomically) after each episode and at exit. From the source timestamps
the demo computes the per-step latency: observation published by the sim bridge -> command
published by the policy node (one DDS hop + the node's step), independent of when this recorder
gets to run.
It exits by itself after ``episodes`` episode returns (0: run until SIGINT/SIGTERM).

With ``joint_state_topic`` set (a robot's sensor_msgs/JointState, e.g. the sim bridge's) it also
keeps each JointState's source timestamp (``sensor_times``): where the latency starts when the
observation topic is one the policy node publishes after its step (its ``~/observation``).

With ``bag`` set, every message it keeps also goes into a real rosbag2 recording (MCAP, the
folder ``bag``; :mod:`rnn_control.bags.writer`), on the same topics with the receive time as log
time: what ``ros2 bag info`` lists and ``rnn-control train-dynamics --bag`` learns from. The JSON
stays what the demo's report reads.

Only this package may import rclpy, which is why the demo's recorder lives here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Float64MultiArray

from rnn_control.atomic import write_json_atomic
from rnn_control.ros.common import result_qos, run_node
from rnn_control.ros.parameters import declare_parameters, parameter

ARRAY = "std_msgs/msg/Float64MultiArray"
PARAMETERS: dict[str, tuple[Any, str]] = {
    "output": ("recording.json", "JSON file written after every episode and at exit"),
    "episodes": (0, "exit after this many episode returns; 0: run until stopped"),
    "observation_topic": ("observation", "std_msgs/Float64MultiArray observations"),
    "command_topic": ("command", "std_msgs/Float64MultiArray commands"),
    "prediction_topic": ("", "std_msgs/Float64MultiArray dynamics predictions ('' : none)"),
    "episode_return_topic": ("/sim_bridge/episode_return", "std_msgs/Float64 episode returns"),
    "joint_state_topic": ("", "sensor_msgs/JointState whose source timestamps to keep ('' : none)"),
    "bag": ("", "also write every message to this rosbag2 folder (MCAP); '' : JSON only"),
}


class TopicRecorder(Node):
    """Keeps every message of the closed loop's topics and writes them to ``output``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("topic_recorder", **kwargs)
        declare_parameters(self, PARAMETERS)
        p = lambda name: parameter(self, name)  # noqa: E731
        self.output = Path(str(p("output")))
        self.episodes = int(p("episodes"))
        self.data: dict[str, list] = {
            "observations": [], "observation_times": [], "commands": [], "command_times": [],
            "predictions": [], "prediction_times": [], "returns": [], "return_times": [],
            "diagnostics": [], "sensor_times": [],
        }  # fmt: skip
        self.done = False
        self.bag = None
        if p("bag"):
            from rnn_control.bags.writer import BagWriter

            self.bag = BagWriter(Path(str(p("bag"))))
            self.bag.open()
        best_effort = QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(Float64MultiArray, str(p("observation_topic")), self._on_obs, best_effort)
        self.create_subscription(Float64MultiArray, str(p("command_topic")), self._on_cmd, best_effort)
        if p("prediction_topic"):
            self.create_subscription(
                Float64MultiArray, str(p("prediction_topic")), self._on_pred, best_effort
            )
        if p("joint_state_topic"):
            topic = str(p("joint_state_topic"))
            self.create_subscription(JointState, topic, self._on_joint_state, best_effort)
        # the bridge's returns are latched: a recorder that matches late still gets every one
        self.create_subscription(Float64, str(p("episode_return_topic")), self._on_return, result_qos())
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, reliable)
        self.get_logger().info(f"recording to {self.output}")
        self._topics = (str(p("observation_topic")), str(p("episode_return_topic")))
        names = (p("observation_topic"), p("command_topic"), p("prediction_topic"), p("episode_return_topic"),
                 p("joint_state_topic"))  # fmt: skip
        keys = ("obs", "cmd", "pred", "ret", "joint")
        self._names = {k: self.resolve_topic_name(str(v)) if v else "" for k, v in zip(keys, names)}
        self._match_timer = self.create_timer(0.1, self._check_publishers)

    def _check_publishers(self) -> None:
        """Say once when the observation and episode-return publishers have been discovered (a
        launcher can wait for this line before letting the loop run)."""
        if all(self.count_publishers(t) > 0 for t in self._topics):
            self.get_logger().info(f"publishers found on {', '.join(self._topics)}")
            self._match_timer.cancel()

    # Two-argument callbacks receive rclpy's MessageInfo (source/received timestamps in ns).
    def _record(self, topic: str, type_name: str, msg: Any) -> None:
        """Into the bag (if any), with the receive time as log time."""
        if self.bag is not None:
            self.bag.write(self.bag.topic(topic, type_name), time.time_ns(), serialize_message(msg))

    def _on_obs(self, msg: Float64MultiArray, info: dict) -> None:
        self._record(self._names["obs"], ARRAY, msg)
        self.data["observations"].append(list(msg.data))
        self.data["observation_times"].append(int(info["source_timestamp"]))

    def _on_cmd(self, msg: Float64MultiArray, info: dict) -> None:
        self._record(self._names["cmd"], ARRAY, msg)
        self.data["commands"].append(list(msg.data))
        self.data["command_times"].append(int(info["source_timestamp"]))

    def _on_pred(self, msg: Float64MultiArray, info: dict) -> None:
        self._record(self._names["pred"], ARRAY, msg)
        self.data["predictions"].append(list(msg.data))
        self.data["prediction_times"].append(int(info["source_timestamp"]))

    def _on_joint_state(self, msg: JointState, info: dict) -> None:
        self._record(self._names["joint"], "sensor_msgs/msg/JointState", msg)
        self.data["sensor_times"].append(int(info["source_timestamp"]))

    def _on_return(self, msg: Float64, info: dict) -> None:
        self._record(self._names["ret"], "std_msgs/msg/Float64", msg)
        self.data["returns"].append(float(msg.data))
        self.data["return_times"].append(int(info["source_timestamp"]))
        self.get_logger().info(f"episode {len(self.data['returns'])}: return {msg.data:.2f}")
        self.write()
        if self.episodes and len(self.data["returns"]) >= self.episodes:
            self.done = True

    def _on_diag(self, msg: DiagnosticArray) -> None:
        self._record("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", msg)
        for st in msg.status:
            values = {kv.key: kv.value for kv in st.values}
            self.data["diagnostics"].append(
                {"time": time.time_ns(), "name": st.name, "level": int.from_bytes(st.level, "little")
                 if isinstance(st.level, bytes) else int(st.level), "message": st.message, "values": values}
            )  # fmt: skip

    def write(self) -> None:
        write_json_atomic(self.output, self.data, indent=None)

    def on_process_exit(self, reason: str) -> None:
        self.write()
        if self.bag is not None:
            self.bag.close()


def main(args: list[str] | None = None) -> int:
    """Entry point of ``python -m rnn_control.ros.topic_recorder``."""
    return run_node(TopicRecorder, args)


if __name__ == "__main__":
    raise SystemExit(main())
