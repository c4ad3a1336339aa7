"""Where the policy node's latency goes: the end-to-end hop of bench_ros_latency.py, cut in stages.

Same three processes (sensor sender, node under test, command receiver) and the same GRU-64 bundle
as ``bench_ros_latency.py``; the node under test (bare relay or policy node, same executor) is
instrumented from outside its code: its sensor callback, and in the policy node each stage of the
callback, are wrapped with timers. Per message, matched by the sensor stamp:

- **inbound**: sensor stamp (taken just before the sender publishes) -> node callback entered
  (the sender's publish, DDS, the node's executor);
- **callback**: the node's callback, publish included; for the policy node also its stages:
  read (validate + copy into the observation), supervisor (latches, watchdog, dt), controller
  step (checks, model, safety filter), the onnxruntime run alone, command message, publish;
- **outbound**: callback returned -> command received by the receiver.

    python bench/bench_ros_latency_breakdown.py --rate 1000 --seconds 4 --repeats 2

``--in-process`` instead times the policy node's sensor callback in this process, without DDS and
with the publish stubbed out: back to back (warm caches) and after 0.8 ms of sleep each (what a
1 kHz stream leaves between messages), to compare with the live callback above.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(60 + os.getpid() % 40))

from bench.bench_ros_latency import JOINTS, _init_ros, latency_bundle, role_sender  # noqa: E402

STAGES = ("read", "supervisor", "controller step", "onnxruntime run", "command message", "publish")
# the policy node's parameters besides the bundle (the same as bench_ros_latency.py's event mode)
POLICY_PARAMS = {"autostart": True, "command_type": "joint_state", "joint_command_field": "effort",
                 "fade_in": 0.0, "watchdog_periods": 50.0, "mode": "event"}  # fmt: skip


def role_receiver(ns: str, out: str) -> None:
    """Record (sensor stamp, receive time) of every command."""
    rclpy, stop = _init_ros()
    from sensor_msgs.msg import JointState

    from rnn_control.ros.codecs import stamp_ns
    from rnn_control.ros.common import qos_profile

    node = rclpy.create_node("receiver", namespace=ns)
    got: list[tuple[int, int]] = []

    def on_command(msg: JointState) -> None:
        now = time.time_ns()
        got.append((stamp_ns(msg.header.stamp), now))

    node.create_subscription(JointState, "command", on_command, qos_profile("reliable", 1000))
    while not stop:
        rclpy.spin_once(node, timeout_sec=0.05)
    Path(out).write_text(json.dumps(got))
    node.destroy_node()
    rclpy.try_shutdown()


def _timed(record: list[int], fn):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter_ns()
        result = fn(*args, **kwargs)
        record.append(time.perf_counter_ns() - t0)
        return result

    return wrapper


def role_node(kind: str, ns: str, bundle: str, executor: str, out: str) -> None:
    """The relay or the policy node, with its callback (and the policy node's stages) timed."""
    rclpy, stop = _init_ros()
    from sensor_msgs.msg import JointState

    from rnn_control.ros.codecs import stamp_ns
    from rnn_control.ros.common import make_executor, qos_profile

    calls: list[tuple[int, int, int]] = []  # (sensor stamp, callback entered, callback returned)
    stages: dict[str, list[int]] = {s: [] for s in STAGES}

    if kind == "relay":  # the same relay as bench_ros_latency.py
        node = rclpy.create_node("relay", namespace=ns)
        pub = node.create_publisher(JointState, "command", qos_profile("reliable", 1))
        out_msg = JointState(name=JOINTS)

        def relay(msg: JointState) -> None:
            t0 = time.time_ns()
            out_msg.header.stamp = msg.header.stamp
            out_msg.effort = msg.position
            pub.publish(out_msg)
            calls.append((stamp_ns(msg.header.stamp), t0, time.time_ns()))

        node.create_subscription(JointState, "joint_states", relay, qos_profile("sensor_data", 5))
    else:
        from rclpy.parameter import Parameter

        from rnn_control.ros.policy_node import PolicyNode

        params = {**POLICY_PARAMS, "bundle": bundle, "executor": executor}
        node = PolicyNode(
            namespace=ns, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]
        )
        on_sensor = node._on_sensor

        def timed_on_sensor(group: str, msg: JointState) -> None:
            t0 = time.time_ns()
            on_sensor(group, msg)
            calls.append((stamp_ns(msg.header.stamp), t0, time.time_ns()))

        node._on_sensor = timed_on_sensor
        node.assembler.on_message = _timed(stages["read"], node.assembler.on_message)
        node.supervisor.tick = _timed(stages["supervisor"], node.supervisor.tick)
        node.controller.step = _timed(stages["controller step"], node.controller.step)
        node.controller.stepper.run = _timed(stages["onnxruntime run"], node.controller.stepper.run)
        node.writer.make = _timed(stages["command message"], node.writer.make)
        node.command_pub.publish = _timed(stages["publish"], node.command_pub.publish)
    ex = make_executor(executor)
    ex.add_node(node)
    while not stop:
        ex.spin_once(timeout_sec=0.05)
    Path(out).write_text(json.dumps({"calls": calls, "stages": stages, "executor": type(ex).__name__}))
    node.destroy_node()
    rclpy.try_shutdown()


def run_case(kind: str, bundle: str, executor: str, rate: float, seconds: float, tmp: Path, k: int) -> dict:
    import numpy as np

    ns = f"/brk{k}"
    me = str(Path(__file__).resolve())
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def spawn(*args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, me, *args], env=env, stderr=subprocess.DEVNULL)

    recv_out, node_out, send_out = (tmp / f"{what}{k}.json" for what in ("recv", "node", "send"))
    receiver = spawn("--role", "receiver", "--ns", ns, "--out", str(recv_out))
    node = spawn(
        "--role", kind, "--ns", ns, "--bundle", bundle, "--executor", executor, "--out", str(node_out)
    )
    sender = spawn("--role", "sender", "--ns", ns, "--rate", str(rate), "--seconds", str(seconds),
                   "--out", str(send_out))  # fmt: skip
    sender.wait(seconds + 60)
    time.sleep(1.0)
    for proc, sig in ((node, signal.SIGTERM), (receiver, signal.SIGINT)):
        proc.send_signal(sig)
        proc.wait(10)
        time.sleep(0.2)
    received = dict(json.loads(recv_out.read_text()))
    node_rec = json.loads(node_out.read_text())
    rows = np.array(
        [(s, a, b, received[s]) for s, a, b in node_rec["calls"] if s in received], dtype=np.int64
    )
    us = lambda x: x / 1e3  # noqa: E731
    result = {
        "kind": kind,
        "executor": node_rec["executor"],
        "messages": len(rows),
        "e2e": us(rows[:, 3] - rows[:, 0]),
        "inbound": us(rows[:, 1] - rows[:, 0]),
        "callback": us(rows[:, 2] - rows[:, 1]),
        "outbound": us(rows[:, 3] - rows[:, 2]),
    }
    for name, samples in node_rec["stages"].items():
        if samples:
            result[name] = np.array(samples) / 1e3
    return result


def in_process(bundle: Path, calls: int = 3000) -> None:
    """The policy node's callback (publish stubbed) back to back and after 0.8 ms of sleep."""
    import numpy as np
    import rclpy
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import JointState

    from rnn_control.ros.codecs import time_msg
    from rnn_control.ros.policy_node import PolicyNode

    rclpy.init()
    params = {**POLICY_PARAMS, "bundle": str(bundle)}
    node = PolicyNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    node.command_pub.publish = lambda msg: None
    msgs = []
    for k in range(64):
        msg = JointState(name=JOINTS)
        msg.position = [0.1 * ((k + i) % 7) for i in range(6)]
        msg.velocity = [0.05 * ((k * i) % 5) for i in range(6)]
        msgs.append(msg)
    for label, pause in (("back to back", 0.0), ("after 0.8 ms sleep", 0.0008)):
        times = []
        for k in range(calls + 500):
            msg = msgs[k % 64]
            msg.header.stamp = time_msg(time.time_ns())
            if pause:
                time.sleep(pause)
            t0 = time.perf_counter_ns()
            node._on_sensor("joint_state", msg)
            times.append(time.perf_counter_ns() - t0)
        us = np.array(times[500:]) / 1e3
        print(f"policy callback without publish, {label:20s}: p50 {np.percentile(us, 50):5.1f} us, "
              f"p99 {np.percentile(us, 99):5.1f} us")  # fmt: skip
    node.destroy_node()
    rclpy.try_shutdown()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--role", choices=["orchestrate", "sender", "relay", "policy", "receiver"], default="orchestrate"
    )
    ap.add_argument("--ns", default="/brk")
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=2, help="alternate relay/policy runs this many times")
    ap.add_argument("--executor", default="auto", help="for both nodes: auto, single_threaded or events")
    ap.add_argument("--bundle", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--in-process", action="store_true", help="time the callback in this process (no DDS)")
    args = ap.parse_args()
    if args.role == "sender":
        return role_sender(args.ns, args.rate, args.seconds, args.out) or 0
    if args.role == "receiver":
        return role_receiver(args.ns, args.out) or 0
    if args.role in ("relay", "policy"):
        return role_node(args.role, args.ns, args.bundle, args.executor, args.out) or 0

    import numpy as np

    tmp = Path(tempfile.mkdtemp(prefix="ros_breakdown_"))
    bundle = latency_bundle(tmp)
    if args.in_process:
        in_process(bundle)
        return 0
    results: dict[str, list[dict]] = {"relay": [], "policy": []}
    for k in range(args.repeats):
        for kind in ("relay", "policy"):
            results[kind].append(
                run_case(
                    kind, str(bundle), args.executor, args.rate, args.seconds, tmp, k * 2 + (kind == "policy")
                )
            )
    print(f"p50 in us, median over {args.repeats} alternating runs of {args.seconds:g} s at {args.rate:g} Hz "
          f"(executor: {results['policy'][0]['executor']})")  # fmt: skip
    columns = ("e2e", "inbound", "callback", "outbound", *STAGES)
    print(f"{'node':8s}" + "".join(f"{c:>17s}" for c in columns))
    p50 = {}
    for kind, runs in results.items():
        p50[kind] = {
            c: float(np.median([np.percentile(r[c], 50) for r in runs])) for c in columns if c in runs[0]
        }
        print(
            f"{kind:8s}"
            + "".join(f"{p50[kind][c]:17.0f}" if c in p50[kind] else f"{'-':>17s}" for c in columns)
        )
    extra = {c: p50["policy"][c] - p50["relay"][c] for c in ("e2e", "inbound", "callback", "outbound")}
    print("policy - relay: " + ", ".join(f"{c} {v:+.0f} us" for c, v in extra.items()))
    work = p50["policy"]["callback"] - p50["policy"]["publish"]
    print(
        f"policy callback without publish: {work:.0f} us "
        f"(of which onnxruntime {p50['policy']['onnxruntime run']:.0f} us)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
