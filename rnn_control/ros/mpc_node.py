"""The MPC node: sensor messages -> model-predictive control with a planning bundle -> commands.

It is the policy node (:class:`~rnn_control.ros.policy_node.PolicyNode`, subclassed, not copied)
with an :class:`~rnn_control.runtime.mpc.MpcController` in place of the policy: the same
lifecycle, parameters and IO contract (sensor topics and command message from the bundle's
layout), the same :class:`~rnn_control.runtime.supervisor.Supervisor` (watchdog, e-stop latch,
fade-in, dt), the same safety filter (clip, slew, NaN guard) and the safe command on deactivate
and on SIGINT/SIGTERM. What differs:

- configure loads a *planning* bundle (``rnn-control export CHECKPOINT --planning K H``) and the
  planner and cost of the scenario's ``mpc:`` section (the bundle's, or ``mpc_scenario``), and
  refuses a bundle whose IO does not fit the topics, or planner settings that do not fit the bundle;
- each tick plans against a deadline (``deadline`` x the control period): an overrun sends the
  previous plan shifted (counted), a tick with no valid candidate the safe command (counted); the
  recurrent state is filtered on the command actually published (after the fade-in);
- ``/diagnostics`` adds the solve time p50/p99, deadline misses, truncated solves, discarded
  candidates and the plan's cost.

Run: ``ros2 run rnn_control mpc_node --ros-args -p bundle:=plan.onnx -p autostart:=true``.
Parameters: :mod:`rnn_control.ros.mpc_settings`. Imports only numpy, onnxruntime, yaml and rclpy.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from std_msgs.msg import Float64MultiArray

from rnn_control.ros.codecs import stamp_ns
from rnn_control.ros.common import WARN, diagnostic_status, run_node
from rnn_control.ros.control_diagnostics import control_status
from rnn_control.ros.mpc_settings import (  # noqa: F401  (PARAMETERS re-exported)
    MPC_PARAMETERS,
    PARAMETERS,
    load_mpc_setup,
    read_mpc_settings,
)
from rnn_control.ros.parameters import declare_parameters
from rnn_control.ros.policy_node import PolicyNode
from rnn_control.ros.policy_settings import ConfigureRefused, read_settings

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class MpcNode(PolicyNode):
    """Lifecycle node planning with a planning bundle on live sensor messages."""

    def __init__(self, node_name: str = "mpc_node", **kwargs: Any) -> None:
        self._mpc_declared = False
        self._misses_reported = 0
        super().__init__(node_name, **kwargs)  # autostart configures from here: see _declare_mpc
        self._declare_mpc()

    def _declare_mpc(self) -> None:
        """The MPC parameters (declared at the first configure at the latest: the parent's
        constructor may autostart before this class's constructor continues)."""
        if not self._mpc_declared:
            declare_parameters(self, MPC_PARAMETERS)
            self._mpc_declared = True

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except ConfigureRefused as exc:
            self.get_logger().error(f"configure refused: {exc}")
            self._release()
            return FAILURE
        s, c = self.settings, self.controller
        plan, cfg = c.model.plan, c.config
        inputs = ", ".join(self.assembler.groups) or "feedback only"
        deadline = f"deadline {cfg.deadline:.0%} of the period" if cfg.deadline > 0 else "no deadline"
        self.get_logger().info(
            f"configured: {Path(s.bundle).name} ({c.metadata.cell}, {plan.members} member(s), {cfg.planner} "
            f"{plan.batch} x {plan.horizon} x {cfg.iterations} it in {c.model.shards} shard(s), {deadline}; "
            f"obs {c.model.obs_dim} from "
            f"{inputs} -> {c.spec.act_dim} x {s.command_type} on '{s.command_topic}'), {s.mode} mode at "
            f"{1.0 / self.period:.1f} Hz"
        )
        return SUCCESS

    def _configure(self) -> None:
        self._declare_mpc()
        s = read_settings(self)
        setup = load_mpc_setup(s, read_mpc_settings(self))
        self.deadline = setup.controller.config.deadline * setup.period  # seconds per solve, 0: none
        self._adopt(s, setup)

    # ------------------------------------------------------------------ control
    def _tick(self, mono: float, stamp: Any) -> None:
        t0 = time.perf_counter()
        supervisor = self.supervisor
        event = supervisor.tick(mono, None if stamp is None else stamp_ns(stamp))
        if event is not None:
            self._log(event)
        if supervisor.hold is None:
            deadline = t0 + self.deadline if self.deadline > 0 else None
            planned = self.controller.step(self.assembler.obs, supervisor.dt, deadline)
            command = supervisor.fade(planned, mono)
            if command is not planned:  # faded in: the model must see what was really sent
                self.controller.executed(command)
            if self.obs_pub is not None:
                self._publish_debug(command)
        else:
            command = self.safe
        self.last_command = command
        self._publish(command, stamp)
        self.latency.add(time.perf_counter() - t0)

    def _publish_debug(self, command: Any) -> None:
        self.obs_pub.publish(Float64MultiArray(data=self.assembler.obs.tolist()))
        result = self.controller.last_result
        raw = command if result is None or result.action is None else result.action
        self.raw_pub.publish(Float64MultiArray(data=[float(v) for v in raw]))

    # ------------------------------------------------------------------ diagnostics
    def diagnostics_values(self) -> dict[str, Any]:
        """The policy node's values plus the planner's."""
        values = super().diagnostics_values()
        c = self.controller
        p50, p99 = c.solve_percentiles()
        c.solve_seconds.clear()
        plan = c.model.plan
        values.update({
            "planner": c.config.planner, "samples": plan.batch, "horizon": plan.horizon,
            "members": plan.members, "iterations": c.config.iterations, "shards": c.model.shards,
            "solve_time_p50_us": p50 * 1e6, "solve_time_p99_us": p99 * 1e6,
            "deadline_us": self.deadline * 1e6, "cost": c.last_cost,
        })  # fmt: skip
        return values

    def _publish_diagnostics(self) -> None:
        if self.controller is None:
            return
        values = self.diagnostics_values()
        self.latency.clear()
        level, message = control_status(self.supervisor, self.assembler, self.active, values["rate_hz"])
        misses = int(values.get("deadline_misses", 0))
        if misses > self._misses_reported:
            level, message = (
                max(level, WARN),
                f"{message}; {misses - self._misses_reported} deadline miss(es)",
            )
        self._misses_reported = misses
        if not math.isfinite(values["solve_time_p99_us"]):
            values["solve_time_p50_us"] = values["solve_time_p99_us"] = 0.0
        self._missing_logged = self.assembler.missing_joints
        status = diagnostic_status(
            f"{self.get_fully_qualified_name()}: mpc", level, message, values,
            hardware_id=Path(self.settings.bundle).name,
        )  # fmt: skip
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run rnn_control mpc_node``."""
    return run_node(MpcNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
