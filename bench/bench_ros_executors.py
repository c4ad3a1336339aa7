"""Executor check: does each rclpy executor receive messages and stop on SIGTERM?

For SingleThreadedExecutor and rclpy.experimental.EventsExecutor, each driven by ``spin()`` or by
a ``spin_once()`` loop (what rnn_control's nodes use), a child process subscribes to a topic
with rclpy's default signal handling; this process publishes 100 Hz for 2.5 s, then sends
SIGTERM. Reported: messages received, whether the child exited within 3 s, and what the spin
raised. The ``spin_once()`` loop is run twice: with a plain callback and with one that takes the
MessageInfo argument (``callback(msg, info)``).

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
import sys, rclpy, rclpy.executors
from std_msgs.msg import Float64
rclpy.init()
node = rclpy.create_node("executor_under_test")
got = []
if sys.argv[3] == "info":
    node.create_subscription(Float64, "executor_check", lambda m, info: got.append(m.data), 10)
else:
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
except rclpy.executors.ExternalShutdownException:  # SIGTERM: rclpy's own handler shut down
    pass
except Exception as exc:
    print(len(got), flush=True)
    print("raised:", type(exc).__name__, exc, flush=True)
except BaseException:
    pass
"""


def check(executor: str, loop: str, callback: str) -> tuple[int, bool, str]:
    import rclpy
    from std_msgs.msg import Float64

    args = [sys.executable, "-c", CHILD, executor, loop, callback]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    node = rclpy.create_node(f"pub_{executor}_{loop}_{callback}")
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
    out = child.stdout.read().splitlines()
    counts = [line for line in out if line.strip().isdigit()]
    raised = next((line[len("raised: ") :] for line in out if line.startswith("raised: ")), "-")
    node.destroy_node()
    return (int(counts[-1]) if counts else 0), exited, raised


def main() -> int:
    import rclpy

    rclpy.init()
    head = f"{'executor':16s} {'loop':10s} {'callback':14s} {'received (of ~250)':>18s}"
    print(f"{head}  exits on SIGTERM  raised")
    for executor in ("single_threaded", "events"):
        for loop, callback in (("spin", "msg"), ("spin_once", "msg"), ("spin_once", "info")):
            received, exited, raised = check(executor, loop, callback)
            exits = "yes" if exited else "NO (killed after 3 s)"
            name = "(msg, info)" if callback == "info" else "(msg)"
            print(f"{executor:16s} {loop:10s} {name:14s} {received:18d}  {exits:16s}  {raised}")
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
