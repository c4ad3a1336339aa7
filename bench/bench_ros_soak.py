"""Soak: the policy node in timer mode at its default rate for many minutes.

A sensor stream (this process) feeds a policy node (a separate process, stepping a GRU-64
bundle at the bundle's control period). Every 10 s the node's resident memory is read from
/proc and its /diagnostics recorded. Pass: RSS growth after warm-up < 5 MB, no watchdog trip,
no missed ticks.

    nice python bench/bench_ros_soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(60 + os.getpid() % 40))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--period", type=float, default=0.01, help="bundle control period (s)")
    ap.add_argument("--sensor-rate", type=float, default=200.0, help="sensor messages per second")
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds before the RSS baseline")
    args = ap.parse_args()

    import numpy as np
    import rclpy
    from std_msgs.msg import Float64MultiArray

    from tests.bundles import make_policy_bundle
    from tests.ros_support import NodeProcess, Probe

    tmp = Path(tempfile.mkdtemp(prefix="ros_soak_"))
    bundle = make_policy_bundle(tmp, cell="gru", obs_dim=8, act_dim=2, hidden=64, control_period=args.period)
    proc = NodeProcess(
        "policy_node",
        {"bundle": bundle, "autostart": True, "diagnostics_period": 5.0},
        tmp,
        namespace="/soak",
    )
    rclpy.init()
    probe = Probe("soak_probe")
    probe.watch_diagnostics()
    pub = probe.node.create_publisher(Float64MultiArray, "/soak/observation", 10)
    probe.spin_until(lambda: pub.get_subscription_count() > 0, 30, "the policy node")
    rng = np.random.default_rng(0)
    start = time.monotonic()
    next_sample = start
    next_pub = start
    samples: list[tuple[float, float]] = []
    end = start + args.minutes * 60
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_pub:
            pub.publish(Float64MultiArray(data=rng.normal(size=8).tolist()))
            next_pub += 1.0 / args.sensor_rate
        if now >= next_sample:
            samples.append((now - start, rss_mb(proc.proc.pid)))
            next_sample += 10.0
            d = probe.diag("/soak/policy_node") or {}
            print(
                f"t={now - start:6.0f}s rss={samples[-1][1]:7.2f} MB rate={d.get('rate_hz', '?')} Hz "
                f"p99={d.get('step_latency_p99_us', '?')} us trips={d.get('watchdog_trips', '?')} "
                f"missed={d.get('missed_ticks', '?')}",
                flush=True,
            )
        probe.executor.spin_once(timeout_sec=max(0.0, min(next_pub, next_sample) - time.monotonic()))
    last = probe.diag("/soak/policy_node")
    while probe.diag("/soak/policy_node") is last:  # keep the stream on until a final report arrives
        pub.publish(Float64MultiArray(data=rng.normal(size=8).tolist()))
        probe.spin_for(1.0 / args.sensor_rate)
    d = probe.diag("/soak/policy_node")
    proc.stop()
    probe.close()
    rclpy.try_shutdown()
    base = next(r for t, r in samples if t >= args.warmup)
    growth = samples[-1][1] - base
    print("\n## result")
    rate, stream = 1 / args.period, args.sensor_rate
    print(f"duration {args.minutes:.1f} min at {rate:.0f} Hz (sensor stream {stream:.0f} Hz)")
    print(
        f"RSS after warm-up {base:.2f} MB -> end {samples[-1][1]:.2f} MB: growth {growth:+.2f} MB "
        f"(limit 5 MB) {'PASS' if growth < 5 else 'FAIL'}"
    )
    print(
        f"ticks {d['ticks']}, watchdog trips {d['watchdog_trips']}, missed ticks {d['missed_ticks']}, "
        f"late ticks {d['late_ticks']}, rejected messages {d['rejected_total']}"
    )
    ok = growth < 5 and d["watchdog_trips"] == "0"
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
