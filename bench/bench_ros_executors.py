"""Executor check: does each rclpy executor receive messages and stop on SIGTERM?

For SingleThreadedExecutor and rclpy.experimental.EventsExecutor, each driven by ``spin()`` or by
a ``spin_once()`` loop (what rnn_control's nodes use), a child process subscribes to a topic
with rclpy's default signal handling; this process publishes 100 Hz for 2.5 s, then sends
SIGTERM. Reported: messages received, and whether the child exited within 3 s.

    python bench/bench_ros_executors.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(60 + os.getpid() % 40))

CHILD = """
import sys, rclpy
from std_msgs.msg import Float64
rclpy.init()
node = rclpy.create_node("executor_under_test")
got = []
node.create_subscription(Float64, "executor_check", lambda m: got.append(m.data), 10)
node.create_timer(0.2, lambda: print(len(got), flush=True))
if sys.argv[1] == "events":
    from rclpy.experimental import EventsExecutor
    ex = EventsExecutor()
else:
    from rclpy.executors import SingleThreadedExecutor
    ex = SingleThreadedExecutor()
ex.add_node(node)
try:
    if sys.argv[2] == "spin":
        ex.spin()
    else:
        while rclpy.ok():
            ex.spin_once(timeout_sec=0.05)
except BaseException:
    pass
"""


def check(executor: str, loop: str) -> tuple[int, bool]:
    import rclpy
    from std_msgs.msg import Float64

    child = subprocess.Popen([sys.executable, "-c", CHILD, executor, loop], stdout=subprocess.PIPE, text=True)
    node = rclpy.create_node(f"pub_{executor}_{loop}")
    pub = node.create_publisher(Float64, "executor_check", 10)
    end = time.monotonic() + 10
    while pub.get_subscription_count() == 0 and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(0.5)
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        pub.publish(Float64(data=1.0))
        time.sleep(0.01)
    time.sleep(0.5)
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(3.0)
        exited = True
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        exited = False
    lines = [line for line in child.stdout.read().split() if line.isdigit()]
    node.destroy_node()
    return (int(lines[-1]) if lines else 0), exited


def main() -> int:
    import rclpy

    rclpy.init()
    print(f"{'executor':28s} {'loop':10s} {'received (of ~250)':>18s}  exits on SIGTERM")
    for executor in ("single_threaded", "events"):
        for loop in ("spin", "spin_once"):
            received, exited = check(executor, loop)
            print(f"{executor:28s} {loop:10s} {received:18d}  {'yes' if exited else 'NO (killed after 3 s)'}")
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
