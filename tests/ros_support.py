"""Helpers for the ROS tests: start nodes as real processes, talk to them from an in-test node.

Every process inherits ``ROS_DOMAIN_ID`` / ``ROS_AUTOMATIC_DISCOVERY_RANGE`` from tests/conftest.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

ROOT = Path(__file__).resolve().parent.parent


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_param_text(v) for v in value) + "]"
    return str(value)


class NodeProcess:
    """A node started as ``python -m rnn_control.ros.<module> --ros-args ...``; output goes to a log file."""

    def __init__(
        self,
        module: str,
        params: dict[str, Any],
        log_dir: Path,
        name: str | None = None,
        params_file: Path | None = None,
        namespace: str | None = None,
    ) -> None:
        args = [sys.executable, "-m", f"rnn_control.ros.{module}", "--ros-args"]
        if name:
            args += ["-r", f"__node:={name}"]
        if namespace:
            args += ["-r", f"__ns:={namespace}"]
        if params_file:
            args += ["--params-file", str(params_file)]
        for k, v in params.items():
            args += ["-p", f"{k}:={_param_text(v)}"]
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.log_path = Path(log_dir) / f"{(namespace or '').strip('/')}{name or module}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig`` and wait; returns the exit code (kills after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()


class Probe:
    """An in-test rclpy node with helpers to spin until something happened."""

    def __init__(self, name: str = "probe") -> None:
        if not rclpy.ok():
            rclpy.init()
        self.node: Node = rclpy.create_node(name)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._clients: dict[str, Any] = {}  # service name -> client, kept for the probe's life
        self.diagnostics: dict[str, dict[str, str]] = {}
        self.diag_levels: dict[str, int] = {}

    def collect(self, msg_type: type, topic: str, qos: Any = 10) -> list:
        """Subscribe and return the list every message is appended to."""
        received: list = []
        self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def watch_diagnostics(self) -> None:
        def on_diag(msg: DiagnosticArray) -> None:
            for s in msg.status:
                self.diagnostics[s.name] = {kv.key: kv.value for kv in s.values}
                self.diag_levels[s.name] = (
                    int.from_bytes(s.level, "little") if isinstance(s.level, bytes) else s.level
                )

        self.node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)

    def diag(self, contains: str) -> dict[str, str] | None:
        for name, values in self.diagnostics.items():
            if contains in name:
                return values
        return None

    def level(self, contains: str) -> int | None:
        for name, level in self.diag_levels.items():
            if contains in name:
                return level
        return None

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.01, max(0.0, end - time.monotonic())))

    def spin_until(self, cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
            self.executor.spin_once(timeout_sec=0.01)

    def call(self, srv_type: type, name: str, request: Any = None, timeout: float = 10.0) -> Any:
        client = self._clients.get(name)
        if client is None:
            client = self.node.create_client(srv_type, name)
            self.spin_until(client.service_is_ready, timeout, f"service {name}")
            # service_is_ready() sees the server's request reader, but the server may not have
            # matched this client's response reader yet, and a response sent before that is lost
            # (Fast DDS logs "failed to send response (timeout)"; a CI run failed on it). Let
            # discovery settle once per client; later calls reuse it.
            self.spin_for(0.5)
            self._clients[name] = client
        future = client.call_async(request or srv_type.Request())
        self.spin_until(future.done, timeout, f"response of {name}")
        return future.result()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def _always(values: Mapping[str, str]) -> bool:
    return True


class DiagnosticsLog:
    """Every /diagnostics status a probe hears, with its message's stamp (the publishing node's
    clock, ``time.time_ns()`` unless it runs on sim time). A test asks for a status *published
    after* a given moment, so it never reads a stale snapshot (a latch or a counter from before
    the change it checks)."""

    def __init__(self, probe: Probe) -> None:
        self.seen: list[tuple[int, str, int, str, dict[str, str]]] = []
        probe.node.create_subscription(DiagnosticArray, "/diagnostics", self._on, 100)

    def _on(self, msg: DiagnosticArray) -> None:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        for s in msg.status:
            level = int.from_bytes(s.level, "little") if isinstance(s.level, bytes) else int(s.level)
            self.seen.append((stamp, s.name, level, s.message, {kv.key: kv.value for kv in s.values}))

    def after(
        self, name: str, t_ns: int, pred: Callable[[Mapping[str, str]], bool] = _always
    ) -> tuple[int, str, dict[str, str]] | None:
        """(level, message, values) of the first status whose name contains ``name``, stamped
        after ``t_ns``, with ``pred(values)``; ``None`` if none was heard yet."""
        for stamp, status_name, level, message, values in self.seen:
            if name in status_name and stamp > t_ns and pred(values):
                return level, message, values
        return None

    def wait(
        self,
        probe: Probe,
        name: str,
        t_ns: int,
        pred: Callable[[Mapping[str, str]], bool] = _always,
        what: str = "",
        timeout: float = 10.0,
    ) -> tuple[int, str, dict[str, str]]:
        """Spin until :meth:`after` finds a status; return it."""
        probe.spin_until(lambda: self.after(name, t_ns, pred) is not None, timeout, what or f"{name} status")
        return self.after(name, t_ns, pred)


def wait_inputs_matched(probe: Probe, node: str, inputs: Sequence[str], timeout: float = 20.0) -> None:
    """Until ``node``'s /diagnostics say each of its ``inputs`` subscriptions is matched with a
    publisher (``publishers_<input>`` >= 1).

    DDS discovery is two-sided: a publisher that already counts the subscription
    (``get_subscription_count``) may still be unknown to the subscriber, which then drops what
    it is sent (a reliable writer may resend it seconds later, or never). Only the subscriber says
    when the first message will arrive."""
    log = DiagnosticsLog(probe)

    def matched(values: Mapping[str, str]) -> bool:
        return all(int(values.get(f"publishers_{name}", 0)) >= 1 for name in inputs)

    try:
        log.wait(probe, node, -1, matched, f"{node} to match publishers on {', '.join(inputs)}", timeout)
    except AssertionError as exc:
        heard = [(name, {k: v for k, v in values.items() if k.startswith("publishers_")})
                 for _, name, _, _, values in log.seen if node in name]  # fmt: skip
        raise AssertionError(f"{exc}; its last status: {heard[-1] if heard else 'none heard'}") from None


@contextmanager
def probe(name: str = "probe") -> Iterator[Probe]:
    p = Probe(name)
    try:
        yield p
    finally:
        p.close()
