"""Shared pieces of the nodes: QoS profiles, diagnostics, latency statistics, process main loop."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

QOS_CHOICES = ("sensor_data", "reliable")
EXECUTORS = ("single_threaded", "events")

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


def qos_profile(kind: str, depth: int) -> QoSProfile:
    """``sensor_data``: best effort, keep last ``depth`` (like ``rclpy.qos.qos_profile_sensor_data``);
    ``reliable``: reliable, keep last ``depth``. Both volatile.

    The trap: a *reliable* subscription receives nothing from a *best-effort* publisher (the
    QoS are incompatible and DDS silently does not match them). A best-effort subscription
    receives from both, which is why sensor subscriptions default to ``sensor_data``.
    """
    if kind not in QOS_CHOICES:
        raise ValueError(f"QoS '{kind}' is not one of {', '.join(QOS_CHOICES)}")
    reliability = ReliabilityPolicy.BEST_EFFORT if kind == "sensor_data" else ReliabilityPolicy.RELIABLE
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=max(1, int(depth)),
        reliability=reliability,
        durability=DurabilityPolicy.VOLATILE,
    )


def qos_warning_callbacks(node: Node, topic: str) -> SubscriptionEventCallbacks:
    """Event callbacks that say loudly when a publisher's QoS cannot reach this subscription."""

    def incompatible(event: Any) -> None:
        node.get_logger().warning(
            f"'{topic}': a publisher's QoS is incompatible with this subscription (policy id "
            f"{event.last_policy_kind}); typically a best-effort publisher and a reliable "
            f"subscription: set sensor_qos to 'sensor_data'"
        )

    return SubscriptionEventCallbacks(incompatible_qos=incompatible)


class LatencyStats:
    """Ring buffer of recent step latencies (seconds) with percentiles."""

    def __init__(self, size: int = 4096) -> None:
        self.samples = np.zeros(size, dtype=np.float64)
        self.count = 0

    def add(self, seconds: float) -> None:
        self.samples[self.count % self.samples.size] = seconds
        self.count += 1

    def percentiles(self, qs: tuple[float, ...] = (50.0, 99.0)) -> list[float]:
        n = min(self.count, self.samples.size)
        if n == 0:
            return [float("nan")] * len(qs)
        return [float(v) for v in np.percentile(self.samples[:n], qs)]

    def clear(self) -> None:
        self.count = 0


def diagnostic_status(
    name: str, level: int, message: str, values: Mapping[str, Any], hardware_id: str = ""
) -> DiagnosticStatus:
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id)
    status.values = [KeyValue(key=k, value=_fmt(v)) for k, v in values.items()]
    return status


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def diagnostics_values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def make_executor(kind: str) -> Executor:
    """``single_threaded`` (default) or ``events`` (rclpy.experimental.EventsExecutor).

    Measured (bench/bench_ros_executors.py): with the kilted wheels ``EventsExecutor.spin()`` runs
    no callbacks and ignores SIGTERM, while a ``spin_once()`` loop (what :func:`run_node` does)
    works with both executors.
    """
    if kind == "events":
        from rclpy.experimental import EventsExecutor

        return EventsExecutor()
    if kind != "single_threaded":
        raise ValueError(f"executor '{kind}' is not one of {', '.join(EXECUTORS)}")
    return SingleThreadedExecutor()


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """Create the node, spin it until SIGINT/SIGTERM, then let it fail safe before exiting.

    rclpy's own signal handling is turned off: it would shut the context down before the node
    can publish its safe command. Our handlers only set a flag; the spin loop checks it at least
    every 50 ms, calls ``node.on_process_exit(signal_name)`` (the node publishes its safe command
    there, while the context is still alive), then destroys the node.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        received.append(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    node = None
    code = 0
    try:
        node = factory()
        kind = node.get_parameter("executor").value if node.has_parameter("executor") else "single_threaded"
        executor = make_executor(kind)
        executor.add_node(node)
        while not received and rclpy.ok() and not getattr(node, "done", False):
            executor.spin_once(timeout_sec=0.05)
    except KeyboardInterrupt:
        received.append(signal.SIGINT)
    except SystemExit as exc:  # a node refusing to start: one line, no traceback
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            code = 2
        else:
            code = int(exc.code or 0)
    finally:
        if node is not None:
            reason = signal.Signals(received[0]).name if received else "exit"
            try:
                if hasattr(node, "on_process_exit"):
                    node.on_process_exit(reason)
            finally:
                node.destroy_node()
        rclpy.try_shutdown()
    return code
