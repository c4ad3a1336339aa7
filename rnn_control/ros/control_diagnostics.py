"""What a control node's /diagnostics carries: the supervisor's, the controller's and the sensor
assembler's counters, and the status line. Plain functions of those three objects, so every
control node (the policy node, an MPC node) reports the same keys and messages."""

from __future__ import annotations

from typing import Any

from rnn_control.ros.codecs import ObservationAssembler
from rnn_control.ros.common import ERROR, OK, WARN
from rnn_control.runtime import Controller, Supervisor


def supervisor_counters(sup: Supervisor) -> dict[str, Any]:
    """The supervisor's tick counters and latches."""
    return {
        "late_ticks": sup.late_ticks,
        "missed_ticks": sup.missed_ticks,
        "watchdog_trips": sup.watchdog_trips,
        "watchdog_latched": sup.watchdog_latched,
        "estop_latched": sup.estop_latched,
        "estop_events": sup.estop_events,
    }


def controller_counters(
    sup: Supervisor, controller: Controller, assembler: ObservationAssembler
) -> dict[str, Any]:
    """State resets (supervisor + fault resets), the controller's counters, the sensor counters."""
    counters = controller.counters
    values: dict[str, Any] = {"state_resets": sup.state_resets + counters.get("resets", 0)}
    values.update((key, count) for key, count in counters.items() if key != "resets")
    values.update((f"rejected_{reason}", count) for reason, count in assembler.rejected.items())
    values["rejected_total"] = assembler.rejected_total
    values["unknown_joint_messages"] = assembler.unknown_joints
    values["missing_joints"] = ", ".join(assembler.missing_joints)
    values.update((f"accepted_{group}", count) for group, count in assembler.accepted.items())
    return values


def control_status(
    sup: Supervisor, assembler: ObservationAssembler, active: bool, rate_hz: float
) -> tuple[int, str]:
    """The diagnostic level and message of a control node."""
    if sup.estop_latched:
        level, message = ERROR, "e-stop latched: safe command (call ~/reset to release)"
    elif sup.watchdog_latched:
        level, message = WARN, "watchdog: sensor data stale, safe command latched"
    elif not active:
        level, message = OK, "inactive"
    elif not assembler.ready():
        level, message = WARN, "waiting for the first message of every sensor"
    else:
        level, message = OK, f"running at {rate_hz:.1f} Hz"
    if missing := assembler.missing_joints:  # JointStates rejected: name what they lack
        level, message = max(level, WARN), f"{message}; JointState lacks joint(s) {', '.join(missing)}"
    return level, message
