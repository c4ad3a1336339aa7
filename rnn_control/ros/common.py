"""Shared pieces of the nodes: QoS profiles, diagnostics, latency statistics, process main loop."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
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
EXECUTORS = ("auto", "single_threaded", "events")

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


RESULT_HISTORY = 1000
"""Results a latched result topic keeps for late subscribers (at least; see :func:`result_qos`)."""


def result_qos(depth: int = RESULT_HISTORY) -> QoSProfile:
    """Latched result topics (the sim bridge's ``~/episode_return``): reliable, transient local,
    keep last ``depth`` (at least :data:`RESULT_HISTORY`).

    A subscriber that joins late (discovery still matching when the first results go out, or a
    user who subscribes after the run) still gets every result the publisher has kept. Publisher
    and subscribers use this profile: a *volatile* publisher cannot serve a transient-local
    subscription (DDS does not match them), and a volatile or best-effort subscriber gets only
    what is published after it matched.
    """
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=max(RESULT_HISTORY, int(depth)),
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
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


def matched_publishers(inputs: Mapping[str, Any]) -> dict[str, int]:
    """``publishers_<input>``: how many publishers each input subscription is matched with, as
    the subscription itself sees it (0: nothing it would accept is sending yet: no driver, a QoS
    mismatch, or discovery not finished on this side)."""
    return {f"publishers_{name}": sub.get_publisher_count() for name, sub in inputs.items()}


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


def events_executor_available() -> bool:
    """True where rclpy ships ``rclpy.experimental.EventsExecutor`` (Kilted and later)."""
    try:
        from rclpy.experimental import EventsExecutor  # noqa: F401
    except ImportError:
        return False
    return True


def make_executor(kind: str) -> Executor:
    """``auto`` (``events`` where available, else ``single_threaded``), ``single_threaded`` or
    ``events`` (rclpy.experimental.EventsExecutor, C++).

    Measured (bench/bench_ros_latency.py): the SingleThreadedExecutor rebuilds its wait set from
    every entity of the node on each wake-up, so a lifecycle node with its services, timers and
    e-stop subscription receives each message ~35-50 us later than a bare relay; with the
    EventsExecutor the delay does not grow with the number of entities. With the kilted wheels
    ``EventsExecutor.spin()`` runs no callbacks and ignores SIGTERM (bench/bench_ros_executors.py),
    while a ``spin_once()`` loop (what :func:`run_node` does) works with both executors; and a
    subscription callback that takes the MessageInfo argument makes its ``spin_once()`` raise
    ``SystemError: null argument to internal routine``; and a timer event queued when its timer
    was destroyed still runs. Every node defaults to ``single_threaded``, the stable executor.
    """
    if kind == "auto":
        kind = "events" if events_executor_available() else "single_threaded"
    if kind == "events":
        from rclpy.experimental import EventsExecutor

        return EventsExecutor()
    if kind != "single_threaded":
        raise ValueError(f"executor '{kind}' is not one of {', '.join(EXECUTORS)}")
    return SingleThreadedExecutor()


def apply_realtime_settings(cpus: Sequence[int], priority: int) -> list[str]:
    """Pin every thread of this process (DDS threads included) to ``cpus`` and, if ``priority`` > 0,
    run them under SCHED_FIFO at that priority: ``taskset -a`` and ``chrt -a -f`` from inside.

    Both need Linux; SCHED_FIFO needs CAP_SYS_NICE or an rtprio limit (``/etc/security/limits.conf``).
    Returns what could not be done, one line each (the node warns and runs on).
    """
    problems: list[str] = []
    threads = [int(t) for t in os.listdir("/proc/self/task")] if os.path.isdir("/proc/self/task") else [0]
    if cpus:
        allowed = set(range(os.cpu_count() or 1))
        wanted = {int(c) for c in cpus}
        if not wanted <= allowed:
            problems.append(f"cpu_affinity {sorted(wanted)}: this machine has CPUs {sorted(allowed)}")
        else:
            try:
                for tid in threads:
                    os.sched_setaffinity(tid, wanted)
            except (OSError, AttributeError) as exc:
                problems.append(f"cpu_affinity {sorted(wanted)} not applied: {exc}")
    if priority > 0:
        try:
            param = os.sched_param(min(int(priority), os.sched_get_priority_max(os.SCHED_FIFO)))
            for tid in threads:
                os.sched_setscheduler(tid, os.SCHED_FIFO, param)
        except (OSError, AttributeError) as exc:
            problems.append(
                f"realtime_priority {priority} (SCHED_FIFO) not applied: {exc}; grant CAP_SYS_NICE or "
                f"an rtprio limit to the user running the node"
            )
    return problems


def scheduling_summary() -> dict[str, str]:
    """This thread's CPU set and scheduling policy, for /diagnostics."""
    try:
        cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
        fifo = os.sched_getscheduler(0) == os.SCHED_FIFO
        policy = f"SCHED_FIFO {os.sched_getparam(0).sched_priority}" if fifo else "SCHED_OTHER"
    except (OSError, AttributeError):  # not Linux
        return {}
    return {"cpus": cpus, "scheduler": policy}


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
        node.get_logger().info(f"spinning with {type(executor).__name__}")
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
