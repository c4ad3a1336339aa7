"""End-to-end latency: sensor message (process 1) -> node under test (process 2) -> command
received (process 3), against a bare rclpy relay (no model) measured in the same run.

Process 1 publishes sensor_msgs/JointState (6 joints, position + velocity, best effort) at the
given rate, stamped with the wall clock. Process 2 is either the policy node (event mode: one
GRU-64 step per message; its JointState command carries the sensor message's stamp) or a bare
rclpy relay that copies the message to the command topic. Process 3 records
``receive time - stamp`` for every command. Dropped = sent - received.

Both nodes use the same executor: ``--executor`` (default ``auto``: rclpy.experimental.
EventsExecutor where rclpy has it) in the main table, SingleThreadedExecutor (the nodes'
default) in a second pair.
Also measured: a pinned pair (the node under test on CPU 1, the relay via sched_setaffinity and
the policy node via its own ``cpu_affinity`` parameter; sender and receiver on CPU 0), the
policy node in timer mode at 1 kHz, plain and pinned + SCHED_FIFO (``realtime_priority``; late
ticks from its /diagnostics), and how each node process handles SIGTERM (exit code, time to
exit, safe command seen).

    python bench/bench_ros_latency.py --seconds 4 --repeats 3
    python bench/bench_ros_latency.py --only timer    # just the cases whose name matches
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.host_load import HostLoad  # noqa: E402  (needs the repository root on the path)

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(60 + os.getpid() % 40))
JOINTS = [f"j{i}" for i in range(6)]


# ----------------------------------------------------------------------------- process roles


def _init_ros():
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, f: stop.append(s))
    return rclpy, stop


def role_sender(ns: str, rate: float, seconds: float, out: str) -> None:
    rclpy, _ = _init_ros()
    from sensor_msgs.msg import JointState

    from rnn_control.ros.codecs import time_msg
    from rnn_control.ros.common import qos_profile

    node = rclpy.create_node("sender", namespace=ns)
    pub = node.create_publisher(JointState, "joint_states", qos_profile("sensor_data", 10))
    end = time.monotonic() + 30
    while pub.get_subscription_count() == 0 and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(1.5)  # let the node under test and the receiver finish discovery
    msg = JointState(name=JOINTS)
    period = 1.0 / rate
    n = int(rate * seconds)
    start = time.monotonic()
    for k in range(n):
        deadline = start + k * period
        while (now := time.monotonic()) < deadline:
            if deadline - now > 0.0003:
                time.sleep(deadline - now - 0.0002)
        msg.position = [0.1 * ((k + i) % 7) for i in range(6)]
        msg.velocity = [0.05 * ((k * i) % 5) for i in range(6)]
        msg.header.stamp = time_msg(time.time_ns())
        pub.publish(msg)
    achieved = n / (time.monotonic() - start)
    Path(out).write_text(json.dumps({"sent": n, "achieved_rate": achieved}))
    node.destroy_node()
    rclpy.try_shutdown()


def role_relay(ns: str, executor: str, cpus: str) -> None:
    """The baseline: a bare rclpy node copying sensor messages to the command topic."""
    rclpy, stop = _init_ros()
    from sensor_msgs.msg import JointState

    from rnn_control.ros.common import apply_realtime_settings, make_executor, qos_profile

    node = rclpy.create_node("relay", namespace=ns)
    if cpus:  # pinned like the policy node's cpu_affinity parameter does it
        assert not apply_realtime_settings([int(c) for c in cpus.split(",")], 0)
    pub = node.create_publisher(JointState, "command", qos_profile("reliable", 1))
    out = JointState(name=JOINTS)

    def relay(msg: JointState) -> None:
        out.header.stamp = msg.header.stamp
        out.effort = msg.position
        pub.publish(out)

    node.create_subscription(JointState, "joint_states", relay, qos_profile("sensor_data", 5))
    ex = make_executor(executor)
    ex.add_node(node)
    while not stop:
        ex.spin_once(timeout_sec=0.05)
    pub.publish(JointState(name=JOINTS, effort=[0.0] * 6))  # same shutdown duty as the policy node
    node.destroy_node()
    rclpy.try_shutdown()


def role_receiver(ns: str, out: str) -> None:
    rclpy, stop = _init_ros()
    import numpy as np
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import JointState

    from rnn_control.ros.codecs import stamp_ns
    from rnn_control.ros.common import qos_profile

    node = rclpy.create_node("receiver", namespace=ns)
    latencies: list[float] = []
    last: list[list[float]] = []
    diag: dict[str, str] = {}

    def on_command(msg: JointState) -> None:
        if stamp_ns(msg.header.stamp) == 0:  # an unstamped shutdown command, not a measurement
            return
        latencies.append((time.time_ns() - stamp_ns(msg.header.stamp)) / 1e3)
        last.append(list(msg.effort))

    def on_diag(msg: DiagnosticArray) -> None:
        for s in msg.status:
            if s.name.startswith(f"{ns}/"):
                diag.update({kv.key: kv.value for kv in s.values})

    node.create_subscription(JointState, "command", on_command, qos_profile("reliable", 1000))
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    while not stop:
        rclpy.spin_once(node, timeout_sec=0.05)
    lat = np.array(latencies)
    Path(out).write_text(
        json.dumps(
            {"latencies_us": lat.tolist(), "diagnostics": diag, "last_command": last[-1] if last else None}
        )
    )
    node.destroy_node()
    rclpy.try_shutdown()


# ----------------------------------------------------------------------------- orchestration


def latency_bundle(tmp: Path) -> Path:
    """The node under test's bundle: GRU-64 reading the 6 joints' position and velocity from a
    JointState, 6 effort outputs, 1 kHz control period (random weights, made here)."""
    from rnn_control.contract import ActionField, ObservationField
    from tests.bundles import make_policy_bundle

    fields = ("position", "velocity")
    obs = [ObservationField(f"{j}_{f}", f"joint_state/{f}/{j}") for j in JOINTS for f in fields]
    act = [ActionField(f"{j}_effort", f"joint/{j}", -5.0, 5.0) for j in JOINTS]
    return make_policy_bundle(tmp, cell="gru", obs_dim=12, act_dim=6, hidden=64, observation=obs,
                              action=act, control_period=0.001, name="latency")  # fmt: skip


def _spawn(*args: str, cpu: str | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    pin = ["taskset", "-c", cpu] if cpu is not None else []
    return subprocess.Popen(
        [*pin, sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
        return -9, timeout
    return rc, time.monotonic() - t0


def run_case(
    name: str, node_args: list[str], rate: float, seconds: float, tmp: Path, k: int, pin: bool = False
) -> dict:
    """One run; ``pin``: sender and receiver on CPU 0 (the node under test pins itself to CPU 1)."""
    import numpy as np

    ns = f"/lat{k}"
    recv_out, send_out = tmp / f"recv{k}.json", tmp / f"send{k}.json"
    me = str(Path(__file__).resolve())
    others = "0" if pin else None
    receiver = _spawn(me, "--role", "receiver", "--ns", ns, "--out", str(recv_out), cpu=others)
    node = _spawn(*[a.replace("{ns}", ns) for a in node_args])
    sender = _spawn(
        me,
        "--role",
        "sender",
        "--ns",
        ns,
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--out",
        str(send_out),
        cpu=others,
    )
    sender.wait(seconds + 60)
    time.sleep(1.2)  # let the last messages and a diagnostics report arrive
    rc, exit_s = _stop(node, signal.SIGTERM)
    time.sleep(0.3)
    _stop(receiver, signal.SIGINT)
    sent = json.loads(send_out.read_text())
    recv = json.loads(recv_out.read_text())
    lat = np.array(recv["latencies_us"])
    measured = lat[: sent["sent"]]  # the last one may be the shutdown command
    d = recv["diagnostics"]
    return {
        "case": name,
        "rate": rate,
        "sent": sent["sent"],
        "achieved_rate": sent["achieved_rate"],
        "received": int(min(len(lat), sent["sent"])),
        "dropped": int(max(0, sent["sent"] - len(measured))),
        "p50_us": float(np.percentile(measured, 50)) if len(measured) else float("nan"),
        "p99_us": float(np.percentile(measured, 99)) if len(measured) else float("nan"),
        "max_us": float(measured.max()) if len(measured) else float("nan"),
        "sigterm_rc": rc,
        "sigterm_exit_s": exit_s,
        "last_command": recv["last_command"],
        "missed_ticks": d.get("missed_ticks"),
        "late_ticks": d.get("late_ticks"),
        "watchdog_trips": d.get("watchdog_trips"),
        "node_rate_hz": d.get("rate_hz"),
        "step_p50_us": d.get("step_latency_p50_us"),
        "step_p99_us": d.get("step_latency_p99_us"),
    }


def _aggregate(rows: list[dict]) -> dict:
    import numpy as np

    return {
        "p50_us": float(np.median([r["p50_us"] for r in rows])),
        "p99_us": float(np.median([r["p99_us"] for r in rows])),
        "max_us": float(max(r["max_us"] for r in rows)),
        "dropped": int(sum(r["dropped"] for r in rows)),
        "sent": int(sum(r["sent"] for r in rows)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", choices=["orchestrate", "sender", "relay", "receiver"], default="orchestrate")
    ap.add_argument("--ns", default="/lat")
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--out", default="")
    ap.add_argument("--executor", default="auto", help="both nodes' executor in the main cases")
    ap.add_argument("--cpus", default="", help="relay role: pin every thread to these CPUs (comma list)")
    ap.add_argument("--rates", default="100,500,1000")
    ap.add_argument("--repeats", type=int, default=1, help="alternate relay/policy runs this many times")
    ap.add_argument("--json", default="", help="write all results here")
    ap.add_argument("--only", default="", help="run only the cases whose name matches this regex")
    args = ap.parse_args()
    if args.role == "sender":
        return role_sender(args.ns, args.rate, args.seconds, args.out) or 0
    if args.role == "relay":
        return role_relay(args.ns, args.executor, args.cpus) or 0
    if args.role == "receiver":
        return role_receiver(args.ns, args.out) or 0

    tmp = Path(tempfile.mkdtemp(prefix="ros_latency_"))
    bundle = latency_bundle(tmp)
    me = str(Path(__file__).resolve())
    policy = [
        "-m",
        "rnn_control.ros.policy_node",
        "--ros-args",
        "-r",
        "__ns:={ns}",
        "-p",
        f"bundle:={bundle}",
        "-p",
        "autostart:=true",
        "-p",
        "command_type:=joint_state",
        "-p",
        "joint_command_field:=effort",
        "-p",
        "fade_in:=0.0",
        "-p",
        "watchdog_periods:=50.0",
    ]
    relay_cmd = [me, "--role", "relay", "--ns", "{ns}", "--executor", args.executor]
    ex = ["-p", f"executor:={args.executor}"]
    cases = []  # (name, node command, sensor rate, pinned)
    for rate in [float(r) for r in args.rates.split(",")]:
        cases.append((f"relay@{rate:g}", relay_cmd, rate, False))
        cases.append((f"policy-event@{rate:g}", [*policy, *ex, "-p", "mode:=event"], rate, False))
    timer = ["-p", "mode:=timer", "-p", "control_period:=0.001"]
    pinned = ["-p", "cpu_affinity:=[1]"]
    cases += [
        ("policy-timer-1kHz@1000", [*policy, *ex, *timer], 1000.0, False),
        ("relay-single-threaded@1000", [*relay_cmd, "--executor", "single_threaded"], 1000.0, False),
        ("policy-event-single-threaded@1000",
         [*policy, "-p", "executor:=single_threaded", "-p", "mode:=event"], 1000.0, False),
        ("relay-pinned@1000", [*relay_cmd, "--cpus", "1"], 1000.0, True),
        ("policy-event-pinned@1000", [*policy, *ex, "-p", "mode:=event", *pinned], 1000.0, True),
        ("policy-timer-1kHz-pinned-fifo@1000",
         [*policy, *ex, *timer, *pinned, "-p", "realtime_priority:=50"], 1000.0, True),
    ]  # fmt: skip
    if args.only:
        cases = [c for c in cases if re.search(args.only, c[0])]
    results = []
    runs = [c for _ in range(args.repeats) for c in cases]
    host = HostLoad()
    for k, (name, node_args, rate, pin) in enumerate(runs):
        case_host = HostLoad()
        r = run_case(name, node_args, rate, args.seconds, tmp, k, pin)
        r["host"] = case_host.line()
        results.append(r)
        print(
            f"{name:34s} sent {r['sent']:5d} ({r['achieved_rate']:6.0f}/s) recv {r['received']:5d} "
            f"dropped {r['dropped']:4d}  p50 {r['p50_us']:7.0f} us  p99 {r['p99_us']:7.0f} us  "
            f"max {r['max_us']:8.0f} us  SIGTERM rc {r['sigterm_rc']} in {r['sigterm_exit_s']:.2f}s"
            + (f"  missed ticks {r['missed_ticks']}" if r["missed_ticks"] is not None else "")
            + f"  ({r['host']})",
            flush=True,
        )
    print(f"\n## policy node vs bare relay (same run; median over {args.repeats} repeats, dropped summed)")
    by = {name: _aggregate([r for r in results if r["case"] == name]) for name, *_ in cases}
    for rate in [float(r) for r in args.rates.split(",")]:
        if f"relay@{rate:g}" not in by or f"policy-event@{rate:g}" not in by:
            continue
        relay, pol = by[f"relay@{rate:g}"], by[f"policy-event@{rate:g}"]
        p50, p99 = pol["p50_us"] / relay["p50_us"], pol["p99_us"] / relay["p99_us"]
        print(
            f"{rate:6g} Hz: p50 {pol['p50_us']:.0f} vs {relay['p50_us']:.0f} us (x{p50:.2f}), "
            f"p99 {pol['p99_us']:.0f} vs {relay['p99_us']:.0f} us (x{p99:.2f}), "
            f"dropped {pol['dropped']} vs {relay['dropped']}"
        )
    for variant in ("single-threaded", "pinned"):
        if f"relay-{variant}@1000" not in by or f"policy-event-{variant}@1000" not in by:
            continue
        relay, pol = by[f"relay-{variant}@1000"], by[f"policy-event-{variant}@1000"]
        print(
            f"  1000 Hz, {variant}: p50 {pol['p50_us']:.0f} vs {relay['p50_us']:.0f} us "
            f"(x{pol['p50_us'] / relay['p50_us']:.2f}), p99 {pol['p99_us']:.0f} vs {relay['p99_us']:.0f} us "
            f"(x{pol['p99_us'] / relay['p99_us']:.2f}), dropped {pol['dropped']} vs {relay['dropped']}"
        )
    print("\n## every case (median over repeats)")
    for name, *_ in cases:
        a = by[name]
        missed = [r["missed_ticks"] for r in results if r["case"] == name and r["missed_ticks"] is not None]
        exits = sorted(
            {(r["sigterm_rc"], r["last_command"] == [0.0] * 6) for r in results if r["case"] == name}
        )
        print(
            f"{name:34s} p50 {a['p50_us']:6.0f} us  p99 {a['p99_us']:6.0f} us  max {a['max_us']:7.0f} us  "
            f"dropped {a['dropped']}/{a['sent']}  missed ticks {missed or '-'}  "
            f"SIGTERM (rc, last command safe) {exits}"
        )
    print(f"\n{host.line()}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
