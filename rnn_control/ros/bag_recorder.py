"""Record topics to a rosbag2 recording (MCAP by default), as ``ros2 bag record`` does, without a
ROS distro's rosbag2: the node subscribes to each topic with raw (serialized CDR) delivery and
hands the bytes unchanged to the writer (:mod:`rnn_control.bags.writer`), stamped with the
receive time on the system clock (rosbag2's log time). The result is a rosbag2 folder with a
version-9 ``metadata.yaml``, which ``ros2 bag info`` / ``ros2 bag play`` and
:func:`rnn_control.bags.load_bags` read.

Topic types are discovered from the graph (a topic is subscribed as soon as a publisher of it
appears, up to ``discovery_timeout`` seconds; those never seen are named at exit). The QoS
follows the publishers: best effort if any publisher is best effort, transient local if all of
them are. On SIGINT/SIGTERM, after ``duration`` seconds or ``max_messages`` messages, the
recording is closed (summary, ``metadata.yaml``); a recorder killed outright leaves an MCAP
file that is still read up to its last complete chunk.

    python -m rnn_control.ros.bag_recorder --ros-args -p output:=logs/run1 \
        -p topics:="['/joint_states', '/effort_controller/commands']"
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from rnn_control.bags.writer import BagWriter
from rnn_control.errors import BagError
from rnn_control.ros.common import run_node
from rnn_control.ros.parameters import declare_parameters, parameter

PARAMETERS: dict[str, tuple[Any, str]] = {
    "output": ("recording", "rosbag2 folder to create (never overwritten)"),
    "topics": (["/joint_states"], "topics to record"),
    "storage": ("mcap", "mcap or sqlite3"),
    "compression": ("none", "none or zstd (MCAP chunks / sqlite3 messages)"),
    "duration": (0.0, "seconds to record, then close; 0: until stopped"),
    "max_messages": (0, "close after this many messages; 0: no limit"),
    "discovery_timeout": (30.0, "seconds to wait for a publisher of each topic"),
}


def message_class(type_name: str) -> type:
    """``sensor_msgs/msg/JointState`` -> the rclpy message class."""
    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


class BagRecorder(Node):
    """Subscribes to ``topics`` as their publishers appear and writes every message to ``output``."""

    def __init__(self, node_name: str = "bag_recorder", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_parameters(self, PARAMETERS)
        p = lambda name: parameter(self, name)  # noqa: E731
        self.output = Path(str(p("output"))).expanduser()
        self.wanted = [str(t) for t in (p("topics") or [])]
        if not self.wanted:
            raise SystemExit("bag_recorder: parameter 'topics' lists no topic")
        storage, compression = str(p("storage")), str(p("compression"))
        if storage not in ("mcap", "sqlite3") or compression not in ("none", "zstd"):
            raise SystemExit(
                f"bag_recorder: storage '{storage}' / compression '{compression}' not supported; "
                "use mcap|sqlite3 and none|zstd"
            )
        try:
            self.bag = BagWriter(self.output, storage=storage, compression=compression)  # type: ignore[arg-type]
            self.bag.open()
        except BagError as exc:
            raise SystemExit(f"bag_recorder: {exc}") from None
        self.duration = float(p("duration"))
        self.max_messages = int(p("max_messages"))
        self.discovery_timeout = float(p("discovery_timeout"))
        self.counts: dict[str, int] = {}
        self.subscriptions_made: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}  # topic -> why it is not recorded
        self.done = False
        self._started = time.monotonic()
        self._first: float | None = None
        self.create_timer(0.1, self._discover)
        self.get_logger().info(f"recording {', '.join(self.wanted)} to {self.output} ({storage})")

    def _discover(self) -> None:
        types = dict(self.get_topic_names_and_types())
        for topic in self.wanted:
            if topic in self.subscriptions_made or topic in self.skipped or topic not in types:
                continue
            if self.count_publishers(topic) == 0:  # known only from subscribers: QoS not yet known
                continue
            type_name = types[topic][0]
            try:
                cls = message_class(type_name)
                conn = self.bag.topic(topic, type_name)
            except (BagError, ImportError, AttributeError, ValueError) as exc:
                self.skipped[topic] = f"{type_name} cannot be recorded ({exc})"
                self.get_logger().error(f"{topic}: {self.skipped[topic]}")
                continue
            self.subscriptions_made[topic] = self.create_subscription(
                cls,
                topic,
                lambda raw, c=conn, t=topic: self._on_message(c, t, raw),
                self._qos(topic),
                raw=True,
            )
            self.counts[topic] = 0
            self.get_logger().info(f"subscribed to {topic} ({type_name})")
        elapsed = time.monotonic() - self._started
        if elapsed > self.discovery_timeout:
            for topic in self.wanted:
                if topic not in self.subscriptions_made and topic not in self.skipped:
                    self.skipped[topic] = f"no publisher within {self.discovery_timeout:.0f} s"
                    self.get_logger().warning(f"{topic}: {self.skipped[topic]}")
        if self.duration and self._first is not None and time.monotonic() - self._first >= self.duration:
            self.done = True

    def _qos(self, topic: str) -> QoSProfile:
        infos = self.get_publishers_info_by_topic(topic)
        best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos)
        latched = bool(infos) and all(
            i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos
        )
        return QoSProfile(
            depth=1000,
            reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )

    def _on_message(self, connection: Any, topic: str, raw: bytes) -> None:
        if self.done:
            return
        if self._first is None:
            self._first = time.monotonic()
        self.bag.write(connection, time.time_ns(), raw)
        self.counts[topic] += 1
        if self.max_messages and self.bag.count >= self.max_messages:
            self.done = True

    def on_process_exit(self, reason: str) -> None:
        """Close the recording (summary and metadata.yaml) and say what it holds."""
        self.bag.close()
        held = ", ".join(f"{t}: {n}" for t, n in self.counts.items()) or "nothing"
        self.get_logger().info(f"closed {self.output} ({reason}): {held}")
        for topic, why in self.skipped.items():
            self.get_logger().warning(f"not recorded: {topic} ({why})")


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run rnn_control bag_recorder_node``."""
    return run_node(BagRecorder, args)


if __name__ == "__main__":
    raise SystemExit(main())
