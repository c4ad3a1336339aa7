"""The dynamics monitor: a recurrent dynamics bundle running alongside the robot.

From the history of sensor readings and commands it predicts the next sensor reading,
publishes the prediction (``~/prediction``: mean then std, Float64MultiArray) and, when the
reading arrives, the normalised prediction error (``~/prediction_error``, std_msgs/Float64: the
RMS over fields of ``(reading - mean) / std``). A persistent error (windowed mean above
``error_threshold``) raises a WARN diagnostic, above ``error_threshold * error_factor`` an ERROR
(a changed payload, a failing motor), published on ``/diagnostics`` at once and every
``diagnostics_period`` seconds. A bundle calibrated on nominal held-out data (its metadata's
``monitor`` entry: :mod:`rnn_control.train.dynamics.calibrate`) brings its own threshold, window,
std floor and error factor for a target false-alarm rate, unless ``use_calibration`` is false.

Layout: the bundle's ``observation`` lists the model inputs, sensor fields first and then the
command fields (``last_action/<i>``: element ``i`` of the command on ``command_topic``); its
``action`` lists the predicted fields, one per sensor field, in the same order.

By default the model steps on commands (``step_on: command``), the ``(obs_t, act_t) -> obs_t+1``
pairs it was trained on, with the command the robot *applied* between two readings of the
``trigger`` group: the newest command published before the later reading, by the DDS publish
times (:mod:`rnn_control.runtime.command_timeline`). When the controller's answer missed the
robot's tick, the robot held the previous command, and so does the model: a slow controller is
not a faulty plant (``late_commands``). A command published less than ``command_margin`` before a
reading may have missed that tick or not: both are tried, the better fit kept
(``ambiguous_commands``). The prediction is published as soon as the answer arrives and scored
when the next reading and the command after it (or the reading after that) are in. An interval
longer than ``gap_factor`` control periods (a lost reading) is stepped over, not scored
(``gaps``); ``~/reset`` (the sim bridge's episode start) restarts from the zero state.
This module imports only numpy, onnxruntime, yaml and rclpy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Float64, Float64MultiArray
from std_srvs.srv import Trigger

from rnn_control.contract.fields import parse_source
from rnn_control.errors import RnnControlError
from rnn_control.ros.codecs import (
    SENSOR_MSG_TYPES,
    ObservationAssembler,
    ReaderLimits,
    SampleTrigger,
    make_command_reader,
)
from rnn_control.ros.common import (
    ERROR,
    OK,
    WARN,
    LatencyStats,
    diagnostic_status,
    matched_publishers,
    qos_profile,
    qos_warning_callbacks,
    run_node,
)
from rnn_control.ros.parameters import (
    command_parameters,
    declare_parameters,
    parameter,
    sensor_topic_parameters,
)
from rnn_control.runtime import Stepper
from rnn_control.runtime.command_timeline import CommandTimeline, Interval
from rnn_control.runtime.error_alarm import ErrorAlarm

LEVELS = (OK, WARN, ERROR)  # diagnostic_msgs' levels of the alarm's 0, 1, 2
PARAMETERS: dict[str, tuple[Any, str]] = {
    "bundle": ("", "path of the dynamics bundle (.onnx)"),
    "providers": ("cpu", "onnxruntime execution providers"),
    "step_on": ("command", "command: predict when a command arrives; sensor: when the trigger group arrives"),
    "trigger": ("all", "the sensor group whose message completes a reading, or all: one new message "
                "of every group (a tick's messages, so none is read a tick old)"),
    **sensor_topic_parameters("input"),
    **command_parameters("the commands sent to the robot"),
    "command_qos": ("sensor_data", "sensor_data (best effort: matches any publisher) or reliable (lossless "
                    "from a reliable publisher: the policy node, ros2_control's controllers)"),
    "command_targets": (Parameter.Type.STRING_ARRAY, "targets of the command elements; unset: vector/<i>"),
    "queue_depth": (100, "messages each input subscription holds: the monitor is not in the control "
                    "path, so a deep queue rides out a stall (scored later) instead of dropping readings"),
    "command_margin": (0.005, "step_on command: seconds before a reading within which a command may have "
                       "missed the robot's tick (both are tried); at most a quarter of the period"),
    "gap_factor": (1.8, "step_on command: an interval between readings longer than this many control "
                   "periods (a reading lost on a best-effort link, a stall) is stepped, not scored; 0: off"),
    "error_threshold": (3.0, "WARN when the windowed mean normalised error exceeds this"),
    "error_factor": (2.0, "ERROR when it exceeds error_threshold * error_factor"),
    "error_window": (20, "predictions averaged for the persistent-error test"),
    "std_floor": (1e-3, "smallest std used to normalise the error"),
    "diagnostics_period": (1.0, "seconds between /diagnostics messages"),
    "use_calibration": (True, "use the bundle's calibrated threshold/window/std floor when it has one"),
    "executor": ("single_threaded", "single_threaded, events or auto (see README: executor)"),
}


@dataclass(frozen=True)
class Tentative:
    """The early step of the open interval with the controller's answer so far: the reading it
    starts from, the command's publish time, the states before and after, the prediction."""

    seq: int
    sent: int
    before: tuple[np.ndarray, ...]
    after: tuple[np.ndarray, ...]
    mean: np.ndarray
    std: np.ndarray


class DynamicsMonitorNode(Node):
    """Predict the next sensor reading and flag persistent prediction errors."""

    def __init__(self, node_name: str = "dynamics_monitor", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_parameters(self, PARAMETERS)
        p = self._param
        bundle = Path(str(p("bundle"))).expanduser()
        try:
            if not str(p("bundle")):
                raise RnnControlError("parameter 'bundle' is empty: set it to a dynamics bundle (.onnx)")
            self.model = Stepper.load(bundle, providers=str(p("providers")))
        except Exception as exc:
            raise SystemExit(f"dynamics_monitor: {exc}") from None
        meta = self.model.metadata
        if meta.kind != "dynamics":
            raise SystemExit(
                f"dynamics_monitor: bundle '{bundle.name}' is a {meta.kind} bundle; need 'dynamics'"
            )
        sources = [f.source for f in meta.observation]
        fields = [parse_source(s) for s in sources]
        self.sensor_index = np.array([i for i, f in enumerate(fields) if f.group != "last_action"])
        if len(self.sensor_index) != meta.act_dim:
            raise SystemExit(
                f"dynamics_monitor: bundle predicts {meta.act_dim} fields but reads {len(self.sensor_index)} "
                f"sensor fields; expected one prediction per sensor field"
            )
        self.assembler = ObservationAssembler(sources, ReaderLimits())
        n_commands = 1 + max((f.index for f in fields if f.group == "last_action"), default=-1)
        targets = list(p("command_targets") or [f"vector/{i}" for i in range(n_commands)])
        self.command_reader = make_command_reader(
            str(p("command_type")), targets, command_joints=list(p("command_joints") or []),
            joint_command_field=str(p("joint_command_field")) or "position",
        ) if n_commands else None  # fmt: skip

        depth = int(p("queue_depth"))
        if depth < 1:
            raise SystemExit(f"dynamics_monitor: queue_depth is {depth}; expected at least 1")
        qos = qos_profile(str(p("sensor_qos")), depth)
        self._inputs: dict[str, Any] = {}  # name -> subscription (matched publishers: /diagnostics)
        for group in self.assembler.groups:
            topic = str(p(f"{group}_topic"))
            self._inputs[group] = self.create_subscription(
                SENSOR_MSG_TYPES[group], topic, lambda msg, info, g=group: self._on_sensor(g, msg, info), qos,
                event_callbacks=qos_warning_callbacks(self, topic),
            )  # fmt: skip
        if self.command_reader is not None:
            self._inputs["command"] = self.create_subscription(
                self.command_reader.msg_type,
                str(p("command_topic")),
                # two required parameters: rclpy passes the MessageInfo (the DDS publish time) only
                # to a callback that cannot be called with the message alone
                lambda msg, info: self._on_command(msg, info),
                qos_profile(str(p("command_qos")), depth),
            )
        self.step_on = str(p("step_on"))
        if self.step_on not in ("command", "sensor"):
            raise SystemExit(f"dynamics_monitor: step_on is '{self.step_on}'; expected command or sensor")
        try:
            self.trigger = SampleTrigger(self.assembler.groups, str(p("trigger")))
        except ValueError as exc:
            raise SystemExit(f"dynamics_monitor: {exc}") from None
        self.pred_pub = self.create_publisher(Float64MultiArray, "~/prediction", 10)
        self.error_pub = self.create_publisher(Float64, "~/prediction_error", 10)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(float(p("diagnostics_period")), self._publish_diagnostics)
        self.create_service(Trigger, "~/reset", self._on_reset)

        threshold, factor = float(p("error_threshold")), float(p("error_factor"))
        self.std_floor, window = float(p("std_floor")), int(p("error_window"))
        c = self.calibration = dict(meta.monitor) if bool(p("use_calibration")) and meta.monitor else {}
        if c:
            threshold, window = float(c["threshold"]), int(c["window"])
            factor = float(c.get("error_factor", factor))
            self.std_floor = float(c.get("std_floor", self.std_floor))
        # the first warm-up predictions after a start do not count (the state warms up)
        self.alarm = ErrorAlarm(threshold, factor, window, int(c.get("warmup", 0)))
        # step_on command: readings and commands by publish time, and the early step of the open
        # interval with the controller's answer so far
        self.timeline = CommandTimeline(round(float(p("command_margin")) * 1e9))
        self.tentative: Tentative | None = None
        self.late_commands = self.ambiguous_commands = self.commands_received = self.readings_received = 0
        self.resets = self.gaps = 0
        # a one-step model cannot score an interval that spans two periods (a lost reading)
        self.gap_ns = round(float(p("gap_factor")) * float(meta.control_period) * 1e9)
        self.reset_at = 0  # ns: messages published before the last reset belong to the episode before
        # step_on sensor: the prediction made from the last reading, scored by the next one
        self.pending: tuple[np.ndarray, np.ndarray] | None = None
        self.predictions = 0
        self.non_finite = 0
        self.anomaly_events = 0
        self.level = OK
        self.latency = LatencyStats()
        self.get_logger().info(
            f"dynamics monitor: {bundle.name} predicts {meta.act_dim} fields, step on {self.step_on}"
        )

    def _param(self, name: str) -> Any:
        return parameter(self, name)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """A new episode (the sim bridge calls this at every episode start, before its first
        reading): zero state, nothing carried over; what the last one still had queued is dropped."""
        self.reset_at = time.time_ns()
        self.model.reset()
        self.assembler.forget()  # every group anew: none of the last episode's values in a reading
        self.trigger.reset()
        self.timeline.clear()
        self.tentative = self.pending = None
        self.alarm.restart()  # warm up again; a window of this episode's errors only (as calibrated)
        self.resets += 1
        response.success, response.message = True, "recurrent state reset"
        return response

    def _on_sensor(self, group: str, msg: Any, info: Any) -> None:
        sent = _sent(info)
        if sent < self.reset_at:
            return  # from the episode before the last reset
        if not self.assembler.on_message(group, msg, self.get_clock().now().nanoseconds, time.monotonic()):
            return
        if not self.trigger.fires(group) or not self.assembler.ready():
            return
        obs = self.assembler.obs.copy()
        self.readings_received += 1
        if self.step_on == "sensor":
            if self.pending is not None:
                self._score(self._error(*self.pending, obs))
                self.pending = None
            self.pending = self._step(obs)
            return
        for interval in self.timeline.add_reading(sent, obs):
            self._close(interval)
        self._predict_open()  # the answer to this reading may have come first (another topic)

    def _on_command(self, msg: Any, info: Any) -> None:
        command, sent = self.command_reader.read(msg), _sent(info)
        if command is None or sent < self.reset_at:
            return
        self.commands_received += 1
        self.assembler.set_last_action(command)
        if self.step_on != "command":
            return
        for interval in self.timeline.add_command(sent, command):
            self._close(interval)
        self._predict_open()

    def _predict_open(self) -> None:
        """Step early over the open interval with the controller's answer so far, and publish it."""
        answer = self.timeline.open_answer()
        if answer is None:
            return
        reading, cmd = answer
        t = self.tentative
        if t is not None and (t.seq, t.sent) == (reading.seq, cmd.sent):
            return  # already predicted with this command
        self._undo_tentative()
        before = self.model.state
        out = self._step(self._with_command(reading.obs, cmd.value))
        if out is not None:
            self.tentative = Tentative(reading.seq, cmd.sent, before, self.model.state, *out)

    def _close(self, interval: Interval) -> None:
        """Step the model over one settled interval with the command the robot applied (reusing the
        early step where it guessed right) and score the interval's end reading."""
        candidates = [c for c in (interval.command, interval.alternative) if c is not None]
        if not candidates:  # nothing published yet: the robot held its safe command
            self._undo_tentative()
            return
        gap = 0 < self.gap_ns < interval.end.sent - interval.start.sent
        if gap:  # step over it with the command in effect, so the state moves on, but do not score it
            self.gaps += 1
            candidates = candidates[:1]
        self.late_commands += interval.late
        self.ambiguous_commands += len(candidates) > 1
        t, self.tentative = self.tentative, None
        if t is not None and t.seq != interval.start.seq:  # (the early step is of the first open one)
            self.model.set_state(t.before)
            t = None
        before = t.before if t is not None else self.model.state
        best: tuple[float, tuple[np.ndarray, ...], np.ndarray | None] | None = None
        for command in candidates:
            if t is not None and (t.seq, t.sent) == (interval.start.seq, command.sent):
                mean, std, after, fresh = t.mean, t.std, t.after, None  # published already
            else:
                self.model.set_state(before)
                out = self._step(self._with_command(interval.start.obs, command.value), publish=False)
                if out is None:
                    return
                (mean, std), after = out, self.model.state
                fresh = np.concatenate([mean, std])
            error = self._error(mean, std, interval.end.obs)
            if best is None or error < best[0]:
                best = (error, after, fresh)
        self.model.set_state(best[1])
        if gap:
            return
        if best[2] is not None:  # the prediction the robot's reading is scored against, if not out yet
            self.pred_pub.publish(Float64MultiArray(data=best[2].tolist()))
        self._score(best[0])

    def _undo_tentative(self) -> None:
        """Restore the state before an early step the robot turned out not to take."""
        if self.tentative is not None:
            self.model.set_state(self.tentative.before)
            self.tentative = None

    def _with_command(self, obs: np.ndarray, command: np.ndarray) -> np.ndarray:
        x = obs.copy()
        a = self.assembler
        x[a.feedback_index] = np.asarray(command, dtype=np.float64)[a.feedback_element]
        return x

    def _error(self, mean: np.ndarray, std: np.ndarray, reading: np.ndarray) -> float:
        """RMS over fields of the normalised error of a prediction against its reading."""
        z = (reading[self.sensor_index] - mean) / np.maximum(std, self.std_floor)
        return float(np.sqrt(np.mean(z * z)))

    def _score(self, error: float) -> None:
        """Publish a prediction's error and add it to the persistent-error statistic."""
        self.alarm.add(error)
        self.error_pub.publish(Float64(data=error))
        if LEVELS[self.alarm.evaluate()[0]] != self.level:
            self._publish_diagnostics()  # a change of level goes out at once

    def _step(self, x: np.ndarray, publish: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
        """One model step: (mean, std), published on ``~/prediction`` unless ``publish`` is false;
        None (and the model reset) when not finite."""
        t0 = time.perf_counter()
        mean = np.asarray(self.model.step(x), dtype=np.float64).copy()
        std = self.model.last_std
        std = np.ones_like(mean) if std is None else np.asarray(std, dtype=np.float64).copy()
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and self.model.state_is_finite()):
            self.non_finite += 1
            self.model.reset()
            self.alarm.restart(clear=False)  # warm up again from the reset state
            self.tentative = self.pending = None
            return None
        self.predictions += 1
        if publish:
            self.pred_pub.publish(Float64MultiArray(data=[*mean.tolist(), *std.tolist()]))
        self.latency.add(time.perf_counter() - t0)
        return mean, std

    def _publish_diagnostics(self) -> None:
        level, message, recent = self.alarm.evaluate()
        level = LEVELS[level]
        if level > OK and self.level == OK:
            self.anomaly_events += 1
            self.get_logger().warning(message)
        self.level = level
        p50, p99 = self.latency.percentiles()
        values = {
            "mean_normalised_error": recent, "predictions": self.predictions,
            "non_finite_resets": self.non_finite, "anomaly_events": self.anomaly_events,
            "readings_received": self.readings_received, "resets": self.resets, "gaps": self.gaps,
            "commands_received": self.commands_received, "late_commands": self.late_commands,
            "ambiguous_commands": self.ambiguous_commands,
            "step_latency_p50_us": p50 * 1e6, "step_latency_p99_us": p99 * 1e6,
            **{f"rejected_{k}": v for k, v in self.assembler.rejected.items()},
            "threshold": self.alarm.threshold, "window": self.alarm.window,
            "calibrated": bool(self.calibration),
            "target_false_alarms_per_hour": self.calibration.get("false_alarms_per_hour", ""),
            **matched_publishers(self._inputs),
        }  # fmt: skip
        status = diagnostic_status(f"{self.get_fully_qualified_name()}: dynamics", level, message, values)
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)


def _sent(info: Any) -> int:
    """The DDS publish time (ns) of a message, or now where the rmw does not give it."""
    return int(info["source_timestamp"]) if info else time.time_ns()


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run rnn_control dynamics_monitor_node``."""
    return run_node(DynamicsMonitorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
