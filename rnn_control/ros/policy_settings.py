"""The policy node's parameters: the table, the settings read at configure, and their validation.

:func:`read_settings` reads and checks the parameters themselves; :func:`load_setup` loads the
bundle and checks that the configured topics and command message can carry its IO layout. Both
raise :class:`ConfigureRefused` with the one line the node logs when it refuses to configure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.parameter import Parameter

from rnn_control.contract.compare import compare_with_robot
from rnn_control.contract.deployment import (
    JOINT_COMMAND_TYPES,
    declared_command_field,
    duplicate_targets,
    joint_modes,
)
from rnn_control.contract.metadata import BundleMetadata
from rnn_control.contract.robot_description import joint_list, load_robot_description
from rnn_control.errors import ConfigError, RnnControlError
from rnn_control.ros.codecs import (
    SENSOR_MSG_TYPES,
    ObservationAssembler,
    ReaderLimits,
    SampleTrigger,
    make_writer,
)
from rnn_control.ros.common import EXECUTORS, QOS_CHOICES
from rnn_control.ros.parameters import parameter
from rnn_control.runtime import Controller

# name -> (default, description). Everything the node reads; launch files and config/*.yaml
# may set only these (tested).
PARAMETERS: dict[str, tuple[Any, str]] = {
    "bundle": ("", "path of the policy bundle (.onnx)"),
    "providers": ("cpu", "onnxruntime execution providers: cpu, cuda, tensorrt, auto or a comma list"),
    "intra_op_threads": (1, "onnxruntime threads per step (1: least jitter)"),
    "autostart": (False, "configure and activate at start (no lifecycle manager needed)"),
    "mode": ("timer", "timer: fixed rate on a steady clock; event: one step per trigger message"),
    "control_period": (0.0, "seconds per step in timer mode; 0: the bundle's control period"),
    "trigger": ("", "event mode: the sensor group whose messages trigger a step ('': the first one), or "
                "all: a step once every group has a new message (messages of one sample time)"),
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
    "command_joints": (
        Parameter.Type.STRING_ARRAY,
        "joint order of joint commands; unset: robot_joints, else the action order",
    ),
    "joint_command_field": (
        "",
        "JointState/JointTrajectory field: position, velocity or effort; "
        "'': the bundle's control mode (position if it declares none)",
    ),
    "robot_joints": (
        Parameter.Type.STRING_ARRAY,
        "the robot's commanded joints in command order (e.g. its "
        "controller's joints); set: configure refuses a bundle that does not command exactly "
        "these, and commands go in this order unless command_joints is set",
    ),
    "robot_description_file": (
        "",
        "the robot's URDF or MJCF; set: configure refuses a bundle whose joints, "
        "modes or limits do not fit it",
    ),
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
    robot_joints: list[str]
    robot_description_file: str
    estop_topic: str
    watchdog_periods: float
    fade_in: float
    limits: ReaderLimits
    diagnostics_period: float
    publish_debug: bool
    topics: dict[str, str]
    cpu_affinity: list[int]
    realtime_priority: int
    executor: str


@dataclass
class Setup:
    """What configure builds from the settings and the bundle."""

    controller: Controller
    assembler: ObservationAssembler
    writer: Any  # a CommandWriter
    period: float  # seconds per control step
    watchdog_timeout: float  # seconds a sensor may stay silent
    robot_checks: list[str]  # what the bundle was checked against (robot_joints, URDF x.urdf, ...)


def read_settings(node: Node) -> Settings:
    """The node's parameters, checked on their own (the bundle is checked by :func:`load_setup`)."""

    def p(name: str) -> Any:
        return parameter(node, name)

    s = Settings(
        bundle=str(p("bundle")), providers=str(p("providers")),
        intra_op_threads=int(p("intra_op_threads")), mode=str(p("mode")),
        control_period=float(p("control_period")), trigger=str(p("trigger")),
        dt_source=str(p("dt_source")),
        sensor_qos=str(p("sensor_qos")), sensor_qos_depth=int(p("sensor_qos_depth")),
        command_topic=str(p("command_topic")), command_type=str(p("command_type")),
        command_joints=list(p("command_joints") or []),
        joint_command_field=str(p("joint_command_field")), estop_topic=str(p("estop_topic")),
        robot_joints=list(p("robot_joints") or []), robot_description_file=str(p("robot_description_file")),
        watchdog_periods=float(p("watchdog_periods")), fade_in=float(p("fade_in")),
        limits=ReaderLimits(float(p("max_abs_value")), float(p("stamp_tolerance")),
                            bool(p("check_stamps")), int(p("vector_length"))),
        diagnostics_period=float(p("diagnostics_period")), publish_debug=bool(p("publish_debug")),
        topics={g: str(p(param)) for g, param in SENSOR_TOPIC_PARAM.items()},
        cpu_affinity=[int(c) for c in p("cpu_affinity") or []],
        realtime_priority=int(p("realtime_priority")), executor=str(p("executor")),
    )  # fmt: skip
    if s.mode not in ("timer", "event"):
        raise ConfigureRefused(f"parameter mode is '{s.mode}'; expected 'timer' or 'event'")
    if s.dt_source not in ("stamp", "arrival"):
        raise ConfigureRefused(f"parameter dt_source is '{s.dt_source}'; expected 'stamp' or 'arrival'")
    if s.sensor_qos not in QOS_CHOICES:
        raise ConfigureRefused(f"parameter sensor_qos is '{s.sensor_qos}'; expected one of {QOS_CHOICES}")
    if s.executor not in EXECUTORS:
        raise ConfigureRefused(f"parameter executor is '{s.executor}'; expected one of {EXECUTORS}")
    if not s.bundle:
        raise ConfigureRefused("parameter 'bundle' is empty: set it to the path of a policy bundle (.onnx)")
    return s


def load_setup(s: Settings) -> Setup:
    """Load the bundle and check that the settings can carry its IO layout. Fills in ``s.trigger``
    (event mode, empty: the bundle's first sensor group)."""
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
    return io_setup(s, meta, controller)


def io_setup(s: Settings, meta: BundleMetadata, controller: Any) -> Setup:
    """Check that the settings can carry the IO layout of ``meta`` (topics, trigger, command message,
    robot, watchdog) and build the control node's setup around ``controller``. Fills in ``s.trigger``
    (event mode, empty: the bundle's first sensor group)."""
    assembler = ObservationAssembler([f.source for f in meta.observation], s.limits)
    for group in assembler.groups:
        if not s.topics[group]:
            fields = [f.name for f in meta.observation if f.source.startswith(group + "/")]
            raise ConfigureRefused(
                f"the bundle reads {fields} from {group} messages but parameter "
                f"{SENSOR_TOPIC_PARAM[group]} is empty"
            )
    if s.mode == "event":
        try:  # '' is the first group
            s.trigger = SampleTrigger(assembler.groups, s.trigger).trigger
        except ValueError as exc:
            raise ConfigureRefused(f"event mode: {exc}") from None
    period = s.control_period if s.control_period > 0 else meta.control_period
    checks = check_robot(s, meta)
    try:
        writer = make_writer(
            s.command_type, [f.target for f in meta.action],
            command_joints=s.command_joints or s.robot_joints,
            joint_command_field=command_field(s.command_type, s.joint_command_field, meta),
            time_from_start=period,
        )  # fmt: skip
    except ValueError as exc:
        raise ConfigureRefused(str(exc)) from None
    if not s.watchdog_periods > 0:
        raise ConfigureRefused(f"parameter watchdog_periods must be > 0, got {s.watchdog_periods}")
    return Setup(controller, assembler, writer, period, s.watchdog_periods * period, checks)


def command_field(command_type: str, field: str, meta: BundleMetadata) -> str:
    """The JointState/JointTrajectory field joint commands go in: ``field``, or (empty) the
    bundle's control mode; ``ValueError`` when ``field`` contradicts the declared mode."""
    if command_type not in JOINT_COMMAND_TYPES:
        return field or "position"
    declared = declared_command_field(meta.action)  # ValueError for mixed modes
    if field and declared and field != declared:
        joints = list(joint_modes(meta.action))
        raise ValueError(
            f"parameter joint_command_field is '{field}' but the bundle commands {joints} in {declared} "
            f"mode: leave it empty (the bundle's mode) or set '{declared}'"
        )
    return field or declared or "position"


def check_robot(s: Settings, meta: BundleMetadata) -> list[str]:
    """Check the bundle against ``robot_joints`` and ``robot_description_file`` (where set);
    :class:`ConfigureRefused` with every difference. Returns what it was checked against."""
    duplicated = duplicate_targets(meta.action)
    if duplicated:
        raise ConfigureRefused(
            f"the bundle's actions write {duplicated} more than once (one action per target)"
        )
    robots = []
    try:
        if s.robot_joints:
            robots.append(joint_list(s.robot_joints, "robot_joints"))
        if s.robot_description_file:
            robots.append(load_robot_description(Path(s.robot_description_file).expanduser()))
    except ConfigError as exc:
        raise ConfigureRefused(f"robot check: {exc}") from None
    differences = []
    for robot in robots:
        differences += compare_with_robot(meta, robot, s.command_joints or s.robot_joints)
    if differences:
        listed = "; ".join(str(d) for d in differences)
        n = len(differences)
        raise ConfigureRefused(f"the bundle does not match the robot ({n} difference(s)): {listed}")
    return [r.source for r in robots]
