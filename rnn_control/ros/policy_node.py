"""The policy node: sensor messages -> recurrent policy bundle -> motor commands, safely.

A managed (lifecycle) node:

- **configure** loads and validates the bundle and checks that the configured topics and
  command message can carry its IO layout; if not, it stays *unconfigured* and logs one line
  saying why.
- **activate** zeroes the recurrent state and starts control, fading in from the safe command
  over ``fade_in`` seconds.
- **deactivate** publishes the safe command and stops.

Control runs either on a fixed-rate steady-clock timer (``mode: timer``, period from the bundle
unless ``control_period`` overrides it) or once per arriving message of one sensor group
(``mode: event``). Time-aware bundles get the time since the previous step as dt: the steady
clock's in timer mode; in event mode the difference of the trigger messages' header stamps (the
sensor's sampling interval; ``dt_source: arrival``, or unusable stamps: the arrival interval).

Safety, in the node itself (ros2_control's forward_command_controller has no command timeout):
stale-sensor watchdog (safe command, latched until every sensor is fresh again), clipping and
slew limits (runtime SafetyFilter), NaN/inf guard on inputs, outputs and hidden state (safe
command + state reset), e-stop topic (latched until the reset service is called), reset service,
and a safe command published on SIGINT/SIGTERM before the process exits.

Run: ``ros2 run rnn_control policy_node --ros-args -p bundle:=model.onnx -p autostart:=true``.
This module imports only numpy, onnxruntime (via rnn_control.runtime), yaml and rclpy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import ParameterUninitializedException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger

from rnn_control.errors import RnnControlError
from rnn_control.ros.common import (
    ERROR,
    EXECUTORS,
    OK,
    QOS_CHOICES,
    WARN,
    LatencyStats,
    apply_realtime_settings,
    diagnostic_status,
    qos_profile,
    qos_warning_callbacks,
    run_node,
    scheduling_summary,
)
from rnn_control.ros.codecs import (
    COMMAND_TYPES,
    SENSOR_MSG_TYPES,
    ObservationAssembler,
    ReaderLimits,
    make_writer,
    stamp_ns,
    time_msg,
)
from rnn_control.runtime import Controller

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE

# name -> (default, description). Everything the node reads; launch files and config/*.yaml
# may set only these (tested).
PARAMETERS: dict[str, tuple[Any, str]] = {
    "bundle": ("", "path of the policy bundle (.onnx)"),
    "providers": ("cpu", "onnxruntime execution providers: cpu, cuda, tensorrt, auto or a comma list"),
    "intra_op_threads": (1, "onnxruntime threads per step (1: least jitter)"),
    "autostart": (False, "configure and activate at start (no lifecycle manager needed)"),
    "mode": ("timer", "timer: fixed rate on a steady clock; event: one step per trigger message"),
    "control_period": (0.0, "seconds per step in timer mode; 0: the bundle's control period"),
    "trigger": ("", "event mode: sensor group whose messages trigger a step; '': the first one"),
    "dt_source": ("stamp", "event mode, dt for time-aware bundles: stamp (trigger header stamps) or arrival"),
    "joint_state_topic": ("joint_states", "sensor_msgs/JointState input"),
    "imu_topic": ("imu", "sensor_msgs/Imu input"),
    "odometry_topic": ("odom", "nav_msgs/Odometry input"),
    "twist_topic": ("cmd_vel", "geometry_msgs/Twist input (e.g. a velocity command)"),
    "vector_topic": ("observation", "std_msgs/Float64MultiArray input"),
    "sensor_qos": ("sensor_data", "sensor_data (best effort) or reliable"),
    "sensor_qos_depth": (5, "sensor subscription queue depth"),
    "command_topic": ("command", "where commands are published"),
    "command_type": ("float64_multi_array", "float64_multi_array, joint_state, joint_trajectory or twist"),
    "command_joints": (Parameter.Type.STRING_ARRAY, "joint order of joint commands; unset: action order"),
    "joint_command_field": ("position", "JointState/JointTrajectory field: position, velocity or effort"),
    "estop_topic": ("estop", "std_msgs/Bool; true latches the safe command until ~/reset"),
    "watchdog_periods": (5.0, "safe command when a sensor is silent for this many control periods"),
    "fade_in": (0.5, "seconds to blend from the safe command to the policy after activation"),
    "max_abs_value": (1e6, "sensor values with a larger magnitude are rejected"),
    "stamp_tolerance": (0.5, "seconds a sensor stamp may lie in the future"),
    "check_stamps": (True, "reject out-of-order and far-future header stamps"),
    "vector_length": (0, "required Float64MultiArray input length; 0: highest used index + 1"),
    "diagnostics_period": (1.0, "seconds between /diagnostics messages"),
    "publish_debug": (False, "publish ~/observation and ~/raw_action"),
    "cpu_affinity": (Parameter.Type.INTEGER_ARRAY, "CPUs for every thread of the node; unset: any CPU"),
    "realtime_priority": (0, "SCHED_FIFO priority 1-99 for every thread of the node; 0: normal scheduling"),
    "executor": ("single_threaded", "single_threaded, events (EventsExecutor: ~40 us less latency) or auto"),
}

SENSOR_TOPIC_PARAM = {g: f"{g}_topic" for g in SENSOR_MSG_TYPES}


class ConfigureRefused(Exception):
    """Why configure cannot succeed (one line, shown in the log)."""


@dataclass
class Settings:
    """The parameters, read once at configure."""

    bundle: str
    providers: str
    intra_op_threads: int
    mode: str
    control_period: float
    trigger: str
    dt_source: str
    sensor_qos: str
    sensor_qos_depth: int
    command_topic: str
    command_type: str
    command_joints: list[str]
    joint_command_field: str
    estop_topic: str
    watchdog_periods: float
    fade_in: float
    limits: ReaderLimits
    diagnostics_period: float
    publish_debug: bool
    topics: dict[str, str]
    cpu_affinity: list[int]
    realtime_priority: int


class PolicyNode(LifecycleNode):
    """Lifecycle node stepping a policy bundle on live sensor messages."""

    def __init__(self, node_name: str = "policy_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        for name, (default, doc) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=doc))
        self.controller: Controller | None = None
        self.settings: Settings | None = None
        self.active = False
        self._entities: list[Any] = []  # subscriptions, publishers, services, timers to destroy
        self._control_timer = None
        self.latency = LatencyStats()
        self._reset_counters()
        if self.get_parameter("autostart").value and self.trigger_configure() == SUCCESS:
            self.trigger_activate()

    # ------------------------------------------------------------------ parameters
    def _param(self, name: str) -> Any:
        try:
            return self.get_parameter(name).value
        except ParameterUninitializedException:
            return None

    def _read_settings(self) -> Settings:
        p = self._param
        return Settings(
            bundle=str(p("bundle")), providers=str(p("providers")),
            intra_op_threads=int(p("intra_op_threads")), mode=str(p("mode")),
            control_period=float(p("control_period")), trigger=str(p("trigger")),
            dt_source=str(p("dt_source")),
            sensor_qos=str(p("sensor_qos")), sensor_qos_depth=int(p("sensor_qos_depth")),
            command_topic=str(p("command_topic")), command_type=str(p("command_type")),
            command_joints=list(p("command_joints") or []),
            joint_command_field=str(p("joint_command_field")), estop_topic=str(p("estop_topic")),
            watchdog_periods=float(p("watchdog_periods")), fade_in=float(p("fade_in")),
            limits=ReaderLimits(float(p("max_abs_value")), float(p("stamp_tolerance")),
                                bool(p("check_stamps")), int(p("vector_length"))),
            diagnostics_period=float(p("diagnostics_period")), publish_debug=bool(p("publish_debug")),
            topics={g: str(p(param)) for g, param in SENSOR_TOPIC_PARAM.items()},
            cpu_affinity=[int(c) for c in p("cpu_affinity") or []],
            realtime_priority=int(p("realtime_priority")),
        )  # fmt: skip

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
        self.get_logger().info(
            f"configured: {Path(s.bundle).name} ({c.metadata.cell}, obs {c.spec.obs_dim} from "
            f"{inputs} -> {c.spec.act_dim} x {s.command_type} on "
            f"'{s.command_topic}'), {s.mode} mode at {1.0 / self.period:.1f} Hz, "
            f"provider {c.stepper.provider}"
        )
        return SUCCESS

    def _configure(self) -> None:
        s = self._read_settings()
        if s.mode not in ("timer", "event"):
            raise ConfigureRefused(f"parameter mode is '{s.mode}'; expected 'timer' or 'event'")
        if s.dt_source not in ("stamp", "arrival"):
            raise ConfigureRefused(f"parameter dt_source is '{s.dt_source}'; expected 'stamp' or 'arrival'")
        if s.sensor_qos not in QOS_CHOICES:
            raise ConfigureRefused(f"parameter sensor_qos is '{s.sensor_qos}'; expected one of {QOS_CHOICES}")
        if self._param("executor") not in EXECUTORS:
            raise ConfigureRefused(
                f"parameter executor is '{self._param('executor')}'; expected one of {EXECUTORS}"
            )
        if not s.bundle:
            raise ConfigureRefused(
                "parameter 'bundle' is empty: set it to the path of a policy bundle (.onnx)"
            )
        path = Path(s.bundle).expanduser()
        if not path.is_file():
            raise ConfigureRefused(f"bundle '{path}' does not exist")
        try:
            controller = Controller.load(path, providers=s.providers, intra_op_threads=s.intra_op_threads)
        except RnnControlError as exc:
            raise ConfigureRefused(f"bundle '{path}' cannot be loaded: {exc}") from None
        except Exception as exc:  # onnxruntime: not an ONNX file, corrupt protobuf, ...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigureRefused(f"bundle '{path}' cannot be loaded: {first}") from None
        meta = controller.metadata
        if meta.kind != "policy":
            raise ConfigureRefused(
                f"bundle '{path.name}' is a {meta.kind} bundle; policy_node needs kind 'policy' "
                f"(dynamics bundles run in dynamics_monitor_node)"
            )
        assembler = ObservationAssembler([f.source for f in meta.observation], s.limits)
        for group in assembler.groups:
            if not s.topics[group]:
                fields = [f.name for f in meta.observation if f.source.startswith(group + "/")]
                raise ConfigureRefused(
                    f"the bundle reads {fields} from {group} messages but parameter "
                    f"{SENSOR_TOPIC_PARAM[group]} is empty"
                )
        if s.mode == "event":
            s.trigger = s.trigger or (assembler.groups[0] if assembler.groups else "")
            if s.trigger not in assembler.groups:
                raise ConfigureRefused(
                    f"event mode: trigger '{s.trigger}' is not a sensor group the bundle reads "
                    f"({', '.join(assembler.groups) or 'none'})"
                )
        period = s.control_period if s.control_period > 0 else meta.control_period
        try:
            writer = make_writer(
                s.command_type, [f.target for f in meta.action], command_joints=s.command_joints,
                joint_command_field=s.joint_command_field, time_from_start=period,
            )  # fmt: skip
        except ValueError as exc:
            raise ConfigureRefused(str(exc)) from None
        if not s.watchdog_periods > 0:
            raise ConfigureRefused(f"parameter watchdog_periods must be > 0, got {s.watchdog_periods}")
        for problem in apply_realtime_settings(s.cpu_affinity, s.realtime_priority):
            self.get_logger().warning(problem)

        self.settings, self.controller, self.assembler, self.writer = s, controller, assembler, writer
        self.period = period
        self.watchdog_timeout = s.watchdog_periods * period  # seconds a sensor may stay silent
        self._trigger = s.trigger if s.mode == "event" else None  # the group whose messages step
        self._stamp_dt = s.dt_source == "stamp"
        self._last_stamp_ns = 0
        self._sim_time = bool(self.get_parameter("use_sim_time").value)
        self.safe = controller.safe_command()
        self.last_command = self.safe.copy()
        self._create_entities()

    def _create_entities(self) -> None:
        s = self.settings
        sensor_qos = qos_profile(s.sensor_qos, s.sensor_qos_depth)
        for group in self.assembler.groups:
            topic = s.topics[group]
            self._entities.append(self.create_subscription(
                SENSOR_MSG_TYPES[group], topic, lambda msg, g=group: self._on_sensor(g, msg), sensor_qos,
                event_callbacks=qos_warning_callbacks(self, topic),
            ))  # fmt: skip
        self.command_pub = self.create_publisher(
            COMMAND_TYPES[s.command_type], s.command_topic, qos_profile("reliable", 1)
        )
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._entities += [self.command_pub, self.diag_pub]
        self._entities.append(
            self.create_subscription(Bool, s.estop_topic, self._on_estop, qos_profile("reliable", 10))
        )
        self._entities.append(self.create_service(Trigger, "~/reset", self._on_reset))
        self.obs_pub = self.raw_pub = None
        if s.publish_debug:
            self.obs_pub = self.create_publisher(Float64MultiArray, "~/observation", 10)
            self.raw_pub = self.create_publisher(Float64MultiArray, "~/raw_action", 10)
            self._entities += [self.obs_pub, self.raw_pub]
        self._diag_timer = self.create_timer(s.diagnostics_period, self._publish_diagnostics)
        self._entities.append(self._diag_timer)
        self._diag_last = (time.monotonic(), 0)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.controller.reset()
        self.state_resets += 1
        self.last_command = self.safe.copy()
        self.assembler.set_last_action(self.last_command)
        now = time.monotonic()
        self.fade_start = now
        self.last_tick = None
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
        self.active = False
        if self._control_timer is not None:
            self.destroy_timer(self._control_timer)
            self._control_timer = None
        self._publish(self.safe)
        self.get_logger().info(f"{why}: safe command published, control stopped")

    def _release(self) -> None:
        self.active = False
        if self._control_timer is not None:
            self.destroy_timer(self._control_timer)
            self._control_timer = None
        for entity in self._entities:
            for destroy in (self.destroy_subscription, self.destroy_publisher, self.destroy_service,
                            self.destroy_timer):  # fmt: skip
                try:
                    if destroy(entity):
                        break
                except Exception:  # wrong kind for this destroy_* call
                    continue
        self._entities = []
        self.controller = None

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
        if accepted and group == self._trigger and self.active:
            stamp = getattr(getattr(msg, "header", None), "stamp", None)
            self._tick(mono, stamp if stamp is not None and (stamp.sec or stamp.nanosec) else None)

    def _on_estop(self, msg: Bool) -> None:
        if msg.data and not self.estop_latched:
            self.estop_latched = True
            self.estop_events += 1
            self.get_logger().warning("E-STOP: safe command latched until ~/reset is called")
            if self.active:
                self._publish(self.safe)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.controller is None:
            response.success, response.message = False, "not configured"
            return response
        was_estop = self.estop_latched
        self.controller.reset()
        self.state_resets += 1
        self.estop_latched = False
        self.last_command = self.safe.copy()
        self.assembler.set_last_action(self.last_command)
        self.fade_start = time.monotonic()
        self.last_tick = None
        response.success = True
        response.message = "recurrent state reset" + ("; e-stop released" if was_estop else "")
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
        mono = time.monotonic()
        if (self.estop_latched or self.assembler.ready()) and self._hold_reason(mono) is not None:
            self._publish(self.safe)
            self.last_command = self.safe.copy()

    def _hold_reason(self, mono: float) -> str | None:
        """Why the policy must not run now (the safe command goes out instead), or ``None``."""
        if self.estop_latched:
            return "estop"
        if not self.assembler.ready():
            return "waiting for sensors"
        stale = self.assembler.stale_groups(mono, self.watchdog_timeout)
        if stale:
            if not self.watchdog_latched:
                self.watchdog_latched = True
                self.watchdog_trips += 1
                self.get_logger().warning(f"watchdog: no fresh {', '.join(stale)} data; safe command latched")
            return "watchdog"
        if self.watchdog_latched:  # every sensor is fresh again: resume from a clean state
            self.watchdog_latched = False
            self.controller.reset()
            self.state_resets += 1
            self.last_command = self.safe.copy()
            self.fade_start = mono
            self.last_tick = None
            self.get_logger().info("watchdog: fresh data on every sensor; resuming")
        return None

    def _dt(self, mono: float, stamp: Any) -> float:
        """Seconds since the previous step (the first step after a reset: the control period).
        Event mode with ``dt_source: stamp``: the difference of the trigger messages' stamps, the
        sensor's own sampling interval, when it is positive and within the watchdog timeout;
        otherwise the steady clock's interval."""
        dt = self.period if self.last_tick is None else mono - self.last_tick
        if stamp is None or not self._stamp_dt:
            return dt
        now_stamp = stamp_ns(stamp)
        previous, self._last_stamp_ns = self._last_stamp_ns, now_stamp
        if self.last_tick is not None:
            stamp_dt = (now_stamp - previous) * 1e-9
            if 0.0 < stamp_dt <= self.watchdog_timeout:
                return stamp_dt
        return dt

    def _tick(self, mono: float, stamp: Any) -> None:
        t0 = time.perf_counter()
        dt = self._dt(mono, stamp)
        if self.last_tick is not None and self._trigger is None and dt > 1.5 * self.period:
            self.late_ticks += 1
            self.missed_ticks += round(dt / self.period) - 1
        self.last_tick = mono
        self.ticks += 1
        if self._hold_reason(mono) is not None:
            command = self.safe
        else:
            obs = self.assembler.obs
            self.assembler.set_last_action(self.last_command)
            command = self.controller.step(obs, dt)
            if mono - self.fade_start < self.settings.fade_in:
                alpha = (mono - self.fade_start) / self.settings.fade_in
                command = self.safe + alpha * (command - self.safe)
            if self.obs_pub is not None:
                self.obs_pub.publish(Float64MultiArray(data=obs.tolist()))
                raw = getattr(self.controller.stepper, "last_output", command)
                self.raw_pub.publish(Float64MultiArray(data=np.asarray(raw, dtype=np.float64).tolist()))
        self.last_command = command
        self._publish(command, stamp)
        self.latency.add(time.perf_counter() - t0)

    def _publish(self, command: np.ndarray, stamp: Any = None) -> None:
        if stamp is None:
            stamp = time_msg(self._now_ns())
        self.command_pub.publish(self.writer.make(command, stamp))
        self.commands_published += 1

    # ------------------------------------------------------------------ diagnostics
    def _reset_counters(self) -> None:
        self.ticks = self.commands_published = self.late_ticks = self.missed_ticks = 0
        self.watchdog_trips = self.state_resets = self.estop_events = 0
        self.watchdog_latched = self.estop_latched = False

    def diagnostics_values(self) -> dict[str, Any]:
        """Every counter, flat (also what /diagnostics carries)."""
        now = time.monotonic()
        t_prev, ticks_prev = self._diag_last
        self._diag_last = (now, self.ticks)
        p50, p99 = self.latency.percentiles()
        values: dict[str, Any] = {
            "active": self.active,
            "mode": self.settings.mode,
            "rate_hz": (self.ticks - ticks_prev) / max(now - t_prev, 1e-9),
            "target_rate_hz": 1.0 / self.period,
            "step_latency_p50_us": p50 * 1e6,
            "step_latency_p99_us": p99 * 1e6,
            "ticks": self.ticks,
            "commands_published": self.commands_published,
            "late_ticks": self.late_ticks,
            "missed_ticks": self.missed_ticks,
            "watchdog_trips": self.watchdog_trips,
            "watchdog_latched": self.watchdog_latched,
            "estop_latched": self.estop_latched,
            "estop_events": self.estop_events,
            **scheduling_summary(),
        }
        counters = self.controller.counters
        values["state_resets"] = self.state_resets + counters.get("resets", 0)
        for key, count in counters.items():
            if key != "resets":
                values[key] = count
        for reason, count in self.assembler.rejected.items():
            values[f"rejected_{reason}"] = count
        values["rejected_total"] = self.assembler.rejected_total
        values["unknown_joint_messages"] = self.assembler.unknown_joints
        for group, count in self.assembler.accepted.items():
            values[f"accepted_{group}"] = count
        return values

    def _publish_diagnostics(self) -> None:
        if self.controller is None:
            return
        values = self.diagnostics_values()
        self.latency.clear()
        if self.estop_latched:
            level, message = ERROR, "e-stop latched: safe command (call ~/reset to release)"
        elif self.watchdog_latched:
            level, message = WARN, "watchdog: sensor data stale, safe command latched"
        elif not self.active:
            level, message = OK, "inactive"
        elif not self.assembler.ready():
            level, message = WARN, "waiting for the first message of every sensor"
        else:
            level, message = OK, f"running at {values['rate_hz']:.1f} Hz"
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
