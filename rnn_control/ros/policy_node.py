"""The policy node: sensor messages -> recurrent policy bundle -> motor commands, safely.

A managed (lifecycle) node:

- **configure** loads and validates the bundle and checks that the configured topics and
  command message can carry its IO layout, and that it fits the robot (``robot_joints``,
  ``robot_description_file``); if not, it stays *unconfigured* and logs one line saying why.
- **activate** zeroes the recurrent state and starts control, fading in from the safe command
  over ``fade_in`` seconds.
- **deactivate** publishes the safe command and stops.

Control runs either on a fixed-rate steady-clock timer (``mode: timer``, period from the bundle
unless ``control_period`` overrides it) or once per arriving message of one sensor group
(``mode: event``; ``trigger: all``: once every group has delivered a new message).
Time-aware bundles get the time since the previous step as dt: the steady
clock's in timer mode; in event mode the difference of the trigger messages' header stamps (the
sensor's sampling interval; ``dt_source: arrival``, or unusable stamps: the arrival interval).

Safety (ros2_control's forward_command_controller has no command timeout): the shared
:class:`~rnn_control.runtime.supervisor.Supervisor` holds the stale-sensor watchdog (safe
command, latched until every sensor is fresh again), the e-stop latch (until the reset service
is called) and the fade-in; the runtime Controller clips, slew-limits and guards inputs, outputs
and hidden state against NaN/inf (safe command + state reset). A safe command is published on
SIGINT/SIGTERM before the process exits.

Parameters and their validation: :mod:`rnn_control.ros.policy_settings`.
Run: ``ros2 run rnn_control policy_node --ros-args -p bundle:=model.onnx -p autostart:=true``.
This module imports only numpy, onnxruntime (via rnn_control.runtime), yaml and rclpy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger

from rnn_control.ros.codecs import COMMAND_TYPES, SENSOR_MSG_TYPES, SampleTrigger, stamp_ns, time_msg
from rnn_control.ros.common import (
    LatencyStats,
    apply_realtime_settings,
    diagnostic_status,
    matched_publishers,
    qos_profile,
    qos_warning_callbacks,
    run_node,
    scheduling_summary,
)
from rnn_control.ros.control_diagnostics import control_status, controller_counters, supervisor_counters
from rnn_control.ros.parameters import declare_parameters, parameter
from rnn_control.ros.policy_settings import (  # noqa: F401  (PARAMETERS & co. re-exported)
    PARAMETERS,
    SENSOR_TOPIC_PARAM,
    ConfigureRefused,
    Settings,
    load_setup,
    read_settings,
)
from rnn_control.runtime import Controller
from rnn_control.runtime.supervisor import Event, Supervisor

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class PolicyNode(LifecycleNode):
    """Lifecycle node stepping a policy bundle on live sensor messages."""

    def __init__(self, node_name: str = "policy_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_parameters(self, PARAMETERS)
        self.controller: Controller | None = None
        self.settings: Settings | None = None
        # created at the first configure, kept after: latches and counters outlive a cleanup
        self.supervisor: Supervisor | None = None
        self.active = False
        self.commands_published = 0
        self._entities: list[Any] = []  # subscriptions, publishers, services, timers to destroy
        self._control_timer = None
        self.latency = LatencyStats()
        if parameter(self, "autostart") and self.trigger_configure() == SUCCESS:
            self.trigger_activate()

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except ConfigureRefused as exc:
            self.get_logger().error(f"configure refused: {exc}")
            self._release()
            return FAILURE
        s, c = self.settings, self.controller
        inputs = ", ".join(self.assembler.groups) or "feedback only"
        checked = f"; matches {' and '.join(self._robot_checks)}" if self._robot_checks else ""
        self.get_logger().info(
            f"configured: {Path(s.bundle).name} ({c.metadata.cell}, obs {c.spec.obs_dim} from "
            f"{inputs} -> {c.spec.act_dim} x {s.command_type} on "
            f"'{s.command_topic}'), {s.mode} mode at {1.0 / self.period:.1f} Hz, "
            f"provider {c.stepper.provider}{checked}"
        )
        return SUCCESS

    def _configure(self) -> None:
        s = read_settings(self)
        self._adopt(s, load_setup(s))

    def _adopt(self, s: Settings, setup: Any) -> None:
        """Take a loaded set-up (the policy's, or the MPC node's): the controller, the sensor
        inputs, the safe command and the supervisor's timing; then create the ROS entities."""
        for problem in apply_realtime_settings(s.cpu_affinity, s.realtime_priority):
            self.get_logger().warning(problem)
        self.settings, self.controller, self.assembler = s, setup.controller, setup.assembler
        self.writer, self.period, self.watchdog_timeout = setup.writer, setup.period, setup.watchdog_timeout
        self._robot_checks, self._missing_logged = setup.robot_checks, []
        # event mode: the message that completes a sample steps (s.trigger was validated)
        self._trigger = SampleTrigger(self.assembler.groups, s.trigger) if s.mode == "event" else None
        self._sim_time = bool(parameter(self, "use_sim_time"))
        self.safe = self.controller.safe_command()
        self.last_command = self.safe.copy()
        self.published = self.safe  # the command last sent (the slew limit continues from it)
        timing = {
            "period": self.period, "watchdog_timeout": self.watchdog_timeout, "fade_in": s.fade_in,
            "safe": self.safe, "reset_state": self._reset_state, "count_late": s.mode == "timer",
            "stamp_dt": s.dt_source == "stamp",
        }  # fmt: skip
        if self.supervisor is None:
            self.supervisor = Supervisor(self.assembler, **timing)
        else:
            self.supervisor.configure(self.assembler, **timing)
        self._create_entities()

    def _create_entities(self) -> None:
        s = self.settings
        sensor_qos = qos_profile(s.sensor_qos, s.sensor_qos_depth)
        self._inputs: dict[str, Any] = {}  # name -> subscription (matched publishers: /diagnostics)
        for group in self.assembler.groups:
            topic = s.topics[group]
            self._inputs[group] = self.create_subscription(
                SENSOR_MSG_TYPES[group], topic, lambda msg, g=group: self._on_sensor(g, msg), sensor_qos,
                event_callbacks=qos_warning_callbacks(self, topic),
            )  # fmt: skip
        self.command_pub = self.create_publisher(
            COMMAND_TYPES[s.command_type], s.command_topic, qos_profile("reliable", 1)
        )
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._entities += [self.command_pub, self.diag_pub]
        self._inputs["estop"] = self.create_subscription(
            Bool, s.estop_topic, self._on_estop, qos_profile("reliable", 10)
        )
        self._entities += list(self._inputs.values())
        self._entities.append(self.create_service(Trigger, "~/reset", self._on_reset))
        self.obs_pub = self.raw_pub = None
        if s.publish_debug:
            self.obs_pub = self.create_publisher(Float64MultiArray, "~/observation", 10)
            self.raw_pub = self.create_publisher(Float64MultiArray, "~/raw_action", 10)
            self._entities += [self.obs_pub, self.raw_pub]
        self._diag_timer = self.create_timer(s.diagnostics_period, self._publish_diagnostics)
        self._entities.append(self._diag_timer)
        self._diag_last = (time.monotonic(), self.supervisor.ticks)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.supervisor.activate(time.monotonic())
        self.active = True
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        if self.settings.mode == "timer":
            self._control_timer = self.create_timer(self.period, self._on_timer, clock=steady)
        else:  # event mode: only the watchdog runs on a timer, at a quarter of its timeout
            check = max(self.period, self.watchdog_timeout / 4)
            self._control_timer = self.create_timer(check, self._on_watchdog_timer, clock=steady)
        self._publish(self.safe)
        self.get_logger().info(f"active: fading in over {self.settings.fade_in:.2f} s")
        return SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop("deactivated")
        return SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop("shutting down")
        self._release()
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop("error")
        self._release()
        return SUCCESS

    def _stop(self, why: str) -> None:
        if not self.active:
            return
        self._destroy_control_timer()
        self._publish(self.safe)
        self.get_logger().info(f"{why}: safe command published, control stopped")

    def _release(self) -> None:
        self._destroy_control_timer()
        for entity in self._entities:
            for destroy in (self.destroy_subscription, self.destroy_publisher, self.destroy_service,
                            self.destroy_timer):  # fmt: skip
                try:
                    if destroy(entity):
                        break
                except Exception:  # wrong kind for this destroy_* call
                    continue
        self._entities, self._inputs = [], {}
        self.controller = None

    def _destroy_control_timer(self) -> None:
        self.active = False
        if self._control_timer is not None:
            self.destroy_timer(self._control_timer)
            self._control_timer = None

    def on_process_exit(self, reason: str) -> None:
        """SIGINT/SIGTERM: publish the safe command (if we were commanding) and make sure it left."""
        if not self.active:
            return
        self.active = False
        self._publish(self.safe)
        try:
            self.command_pub.wait_for_all_acked(timeout=_duration(0.3))
        except Exception:
            time.sleep(0.05)
        self.get_logger().info(f"{reason}: safe command published before exit")

    # ------------------------------------------------------------------ inputs
    def _now_ns(self) -> int:
        # ROS time is the system clock unless use_sim_time is set (time.time_ns() is ~10x cheaper)
        return self.get_clock().now().nanoseconds if self._sim_time else time.time_ns()

    def _on_sensor(self, group: str, msg: Any) -> None:
        mono = time.monotonic()
        accepted = self.assembler.on_message(group, msg, self._now_ns(), mono)
        if accepted and self.active and self._trigger is not None and self._trigger.fires(group):
            stamp = getattr(getattr(msg, "header", None), "stamp", None)
            self._tick(mono, stamp if stamp is not None and (stamp.sec or stamp.nanosec) else None)
        elif not accepted and (missing := self.assembler.missing_joints) and missing != self._missing_logged:
            self._missing_logged = missing  # once per set of missing joints (cleared by diagnostics)
            self.get_logger().warning(f"JointState rejected: it lacks joint(s) {missing} the bundle needs")

    def _on_estop(self, msg: Bool) -> None:
        if msg.data and (event := self.supervisor.estop()) is not None:
            self._log(event)
            if self.active:
                self._publish(self.safe)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.controller is None:
            response.success, response.message = False, "not configured"
            return response
        released = self.supervisor.reset(time.monotonic())
        response.success = True
        response.message = "recurrent state reset" + ("; e-stop released" if released else "")
        self.get_logger().info(response.message)
        return response

    # ------------------------------------------------------------------ control
    def _on_timer(self) -> None:
        # A timer event already queued when deactivate destroyed the timer can still run (seen with
        # the EventsExecutor): after the safe command, an inactive node publishes nothing.
        if self.active:
            self._tick(time.monotonic(), None)

    def _on_watchdog_timer(self) -> None:
        """Event mode: no step here, only the safe command while sensors are silent or e-stopped."""
        if not self.active:
            return
        event = self.supervisor.update(time.monotonic())
        if event is not None:
            self._log(event)
        if self.supervisor.latched:
            self._publish(self.safe)
            self.last_command = self.safe.copy()

    def _tick(self, mono: float, stamp: Any) -> None:
        t0 = time.perf_counter()
        supervisor = self.supervisor
        event = supervisor.tick(mono, None if stamp is None else stamp_ns(stamp))
        if event is not None:
            self._log(event)
        if supervisor.hold is None:
            self.assembler.set_last_action(self.last_command)
            command = supervisor.fade(self.controller.step(self.assembler.obs, supervisor.dt), mono)
            if self.obs_pub is not None:
                self._publish_debug(command)
        else:
            command = self.safe
        self.last_command = command
        self._publish(command, stamp)
        self.latency.add(time.perf_counter() - t0)

    def _reset_state(self) -> None:
        """The controller starts from a clean state (the supervisor calls this). Its slew limit
        starts from the command last published (the safe one on activation and after a latch), so
        even the first command after a (re)start moves at most ``max_rate * dt`` from it."""
        self.controller.reset()
        self.controller.safety.reset(self.published)
        self.last_command = self.safe.copy()
        self.assembler.set_last_action(self.last_command)

    def _publish(self, command: np.ndarray, stamp: Any = None) -> None:
        if stamp is None:
            stamp = time_msg(self._now_ns())
        self.command_pub.publish(self.writer.make(command, stamp))
        self.published = command
        self.commands_published += 1

    def _publish_debug(self, command: np.ndarray) -> None:
        self.obs_pub.publish(Float64MultiArray(data=self.assembler.obs.tolist()))
        raw = getattr(self.controller.stepper, "last_output", command)
        self.raw_pub.publish(Float64MultiArray(data=np.asarray(raw, dtype=np.float64).tolist()))

    def _log(self, event: Event) -> None:
        # two call sites: rclpy refuses one call site logging at two severities (ValueError)
        if event.warning:
            self.get_logger().warning(event.message)
        else:
            self.get_logger().info(event.message)

    # ------------------------------------------------------------------ diagnostics
    def diagnostics_values(self) -> dict[str, Any]:
        """Every counter, flat (also what /diagnostics carries)."""
        now = time.monotonic()
        sup = self.supervisor
        t_prev, ticks_prev = self._diag_last
        self._diag_last = (now, sup.ticks)
        p50, p99 = self.latency.percentiles()
        values: dict[str, Any] = {
            "active": self.active,
            "mode": self.settings.mode,
            "rate_hz": (sup.ticks - ticks_prev) / max(now - t_prev, 1e-9),
            "target_rate_hz": 1.0 / self.period,
            "step_latency_p50_us": p50 * 1e6,
            "step_latency_p99_us": p99 * 1e6,
            "ticks": sup.ticks,
            "commands_published": self.commands_published,
            **supervisor_counters(sup),
            **scheduling_summary(),
            **controller_counters(sup, self.controller, self.assembler),
            **matched_publishers(self._inputs),
        }
        return values

    def _publish_diagnostics(self) -> None:
        if self.controller is None:
            return
        values = self.diagnostics_values()
        self.latency.clear()
        level, message = control_status(self.supervisor, self.assembler, self.active, values["rate_hz"])
        self._missing_logged = self.assembler.missing_joints
        status = diagnostic_status(
            f"{self.get_fully_qualified_name()}: policy", level, message, values,
            hardware_id=Path(self.settings.bundle).name,
        )  # fmt: skip
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)


def _duration(seconds: float):
    from rclpy.duration import Duration

    return Duration(nanoseconds=int(seconds * 1e9))


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run rnn_control policy_node``."""
    return run_node(PolicyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
