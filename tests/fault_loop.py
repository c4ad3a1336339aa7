"""A fault-detection run over real DDS (used by the tests and bench/bench_fault_detection.py):
the sim bridge (realtime, a scenario with a ``fault`` wrapper) and the dynamics monitor as
separate processes, and an in-test controller node that answers every observation with a
pink-noise torque. Returns when each observation arrived and every level the monitor published."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class FaultRun:
    """Receive times (monotonic s) of the observations and the monitor's (time, level) changes."""

    obs_times: list[float] = field(default_factory=list)
    levels: list[tuple[float, int]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    diagnostics: dict[str, str] = field(default_factory=dict)  # the monitor's last status values

    def first_alarm_after(self, t: float) -> float | None:
        """Time of the first WARN/ERROR published after ``t``."""
        return next((s for s, level in self.levels if s >= t and level >= 1), None)

    def alarms_before(self, t: float) -> int:
        """Rises to WARN/ERROR before ``t``."""
        n, prev = 0, 0
        for s, level in self.levels:
            if s < t and level >= 1 and prev == 0:
                n += 1
            prev = level
        return n


def run_fault_loop(
    bundle: Path,
    scenario: str | Path,
    seconds: float,
    log_dir: Path,
    seed: int = 0,
    noise_seed: int = 5,
    answer_delay: float = 0.0,
) -> FaultRun:
    """Run the loop until ``seconds`` after the first observation. ``answer_delay``: the controller
    answers each observation a uniformly random 0 to ``answer_delay`` seconds after it arrived, in
    order (a slow controller: beyond the bridge's tick, the robot holds the previous command)."""
    import queue
    import threading

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from std_msgs.msg import Float64MultiArray

    from rnn_control.ros.common import qos_profile
    from rnn_control.train.dynamics.exploration import make_exploration
    from tests.ros_support import NodeProcess, Probe

    bridge = NodeProcess(
        "sim_bridge_node",
        {"scenario": str(scenario), "mode": "realtime", "seed": seed, "connect_timeout": 60.0},
        log_dir,
    )
    # statuses every 0.1 s: an alarm is seen within 0.1 s of the monitor raising it (at the
    # default 1 s, up to a second of the measured detection delay was the publishing period)
    monitor = NodeProcess(
        "dynamics_monitor_node", {"bundle": str(bundle), "diagnostics_period": 0.1}, log_dir
    )
    run = FaultRun()
    if not rclpy.ok():
        rclpy.init()
    probe = Probe("fault_controller")
    explore = make_exploration(
        "pink", "Pendulum-v1", np.array([-2.0]), np.array([2.0]), 1, noise_seed, 0.6, 1.0, 0.15, 0.05
    )
    explore.reset(np.ones(1, dtype=bool))
    cmd = probe.node.create_publisher(Float64MultiArray, "command", qos_profile("reliable", 10))

    delays = np.random.default_rng(noise_seed)
    # delayed answers leave from a thread of their own, in order, each at its due time: sleeping in
    # the callback instead queued every later observation behind it, so the delays added up and the
    # lateness depended on the load (17 late of ~160 once on a clean clone, 60 expected)
    answers: queue.SimpleQueue = queue.SimpleQueue()

    def answer_in_order() -> None:
        while (item := answers.get()) is not None:
            due, answer = item
            time.sleep(max(0.0, due - time.monotonic()))
            cmd.publish(answer)

    answerer = threading.Thread(target=answer_in_order, daemon=True)
    answerer.start()

    def on_obs(msg: Float64MultiArray) -> None:
        now = time.monotonic()
        run.obs_times.append(now)
        u = explore.act(np.asarray(msg.data, dtype=np.float64)[None])[0]
        answer = Float64MultiArray(data=[float(u[0])])
        if answer_delay > 0:
            answers.put((now + float(delays.uniform(0.0, answer_delay)), answer))
        else:
            cmd.publish(answer)

    def on_diag(msg: DiagnosticArray) -> None:
        for s in msg.status:
            if "dynamics" in s.name:
                run.diagnostics = {kv.key: kv.value for kv in s.values}
                level = int.from_bytes(s.level, "little") if isinstance(s.level, bytes) else int(s.level)
                if not run.levels or run.levels[-1][1] != level:
                    run.levels.append((time.monotonic(), level))

    probe.node.create_subscription(Float64MultiArray, "observation", on_obs, qos_profile("sensor_data", 10))
    probe.node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
    try:
        probe.spin_until(
            lambda: bool(run.obs_times) or not (bridge.alive() and monitor.alive()),
            90,
            "the first observation",
        )
        if run.obs_times:
            probe.spin_until(
                lambda: time.monotonic() - run.obs_times[0] > seconds or not monitor.alive(),
                seconds + 30,
                "the run",
            )
    finally:
        answers.put(None)
        answerer.join()
        probe.close()
        rclpy.try_shutdown()
        for name, node in (("bridge", bridge), ("monitor", monitor)):
            node.stop()
            run.logs[name] = node.log()
    return run
