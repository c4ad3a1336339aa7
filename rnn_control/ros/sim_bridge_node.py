"""The sim bridge: a Gymnasium scenario exposed as a robot over ROS topics.

It publishes the environment's observations as the sensor messages a bundle's IO layout names
(JointState, Imu, Odometry, Twist, Float64MultiArray), applies the command messages it receives
(holding the last one; the safe command before the first), resets on episode end and publishes
each episode's return on ``~/episode_return`` (std_msgs/Float64). With it the whole
train -> export -> deploy loop closes over real ROS topics without hardware.

Modes: ``realtime`` steps the env on a steady timer at the control period (like a robot: a late
command is simply not there yet), from the moment the policy node is connected (at most
``connect_timeout`` seconds after start); ``lockstep`` publishes an observation and steps as soon as the
command for it arrives (deterministic, as fast as the nodes go: for comparing a ROS closed loop
with an in-process evaluation). Header stamps: the wall clock in realtime mode; in lockstep the
simulated time since the bridge started (the sum of the steps' ``info["dt"]``, else the control
period), so a policy node taking dt from stamps feeds time-aware bundles the simulated durations.

Results are latched: ``~/episode_return`` is reliable and transient local, keeping the last
``max(max_episodes, 1000)`` returns (``rnn_control.ros.common.result_qos``; subscribe with the same
profile), so a subscriber that matches late still receives every episode's return. A lockstep run
can finish in well under a second, faster than discovery, so in lockstep the first episode also
waits for a subscriber of ``~/episode_return`` (at most ``connect_timeout`` seconds, then it starts
with a warning); and before the node exits (after ``max_episodes``, or on a signal) it waits until
every matched subscriber has acknowledged the returns (at most ``result_timeout`` seconds).

The environment comes from the bundle's metadata (``scenario``) or from the ``scenario``
parameter (a shipped name or a YAML path); gymnasium is imported lazily in here only: this node
never runs on a robot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Float64

from rnn_control.contract.deployment import declared_command_field
from rnn_control.contract.fields import parse_source
from rnn_control.contract.layout import bundle_layout
from rnn_control.ros.codecs import (
    COMMAND_TYPES,
    SENSOR_MSG_TYPES,
    SensorMessageBuilder,
    make_command_reader,
    time_msg,
)
from rnn_control.ros.common import qos_profile, result_qos, run_node
from rnn_control.ros.episode_resets import EpisodeResets
from rnn_control.ros.parameters import (
    command_parameters,
    declare_parameters,
    parameter,
    sensor_topic_parameters,
)
from rnn_control.ros.robot_messages import RobotMessageBuilder
from rnn_control.runtime import read_bundle_metadata
from rnn_control.scenario import load_scenario, scenario_from_dict

PARAMETERS: dict[str, tuple[Any, str]] = {
    "bundle": ("", "policy bundle whose metadata holds the scenario and IO layout"),
    "scenario": ("", "scenario name or YAML path (used when no bundle is given)"),
    "seed": (0, "episode k is reset with seed + k"),
    "mode": ("realtime", "realtime: steady timer at the control period; lockstep: step on each command"),
    "control_period": (0.0, "seconds per env step; 0: the bundle's (or the env's dt)"),
    "lockstep_timeout": (1.0, "lockstep: seconds to wait for a command before stepping with the held one"),
    "connect_timeout": (10.0, "seconds the first episode waits for the policy node (realtime) or for a "
                              "subscriber of ~/episode_return (lockstep) before starting anyway"),
    "result_timeout": (5.0, "seconds to wait at exit until every matched subscriber has acknowledged "
                            "the episode returns"),
    "max_episodes": (0, "exit after this many episodes; 0: run forever"),
    "policy_reset_service": ("", "Trigger service called at every episode start (e.g. /policy_node/reset)"),
    "reset_services": (Parameter.Type.STRING_ARRAY, "more Trigger services called with the policy's at every "
                       "episode start (e.g. dynamics_monitor/reset), when offered; in lockstep the first "
                       "episode waits for them (at most connect_timeout)"),
    **sensor_topic_parameters("output"),
    **command_parameters("command input"),
    "executor": ("single_threaded", "single_threaded, events or auto (see README: executor)"),
}  # fmt: skip
RETURN_TOPIC = "~/episode_return"
# what the first episode waits for (log lines)
POLICY = "policy node connected (sensor subscribers, a command publisher, the reset service)"
RESULT_SUBSCRIBER = "subscriber of ~/episode_return"
RESET_SERVICES = "reset services (reset_services)"


class SimBridgeNode(Node):
    """Gymnasium env <-> ROS topics."""

    def __init__(self, node_name: str = "sim_bridge", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_parameters(self, PARAMETERS)
        p = self._param
        self.env, observation, action, bundle_period = self._make_env()
        sources = [f.source for f in observation]
        self.obs_fields = [i for i, s in enumerate(sources) if parse_source(s).group != "last_action"]
        self.builder = SensorMessageBuilder(sources)
        self.robot_builder = _robot_builder(self.env, sources)  # None: not a joint-space robot
        self.read_groups = set(self.builder.groups)  # what the bundle reads: the policy subscribes
        if self.robot_builder is not None:  # the robot's own messages; the rest (vector/...) as before
            self.builder = SensorMessageBuilder(sources, exclude=self.robot_builder.groups)
        self.scale = np.array([f.scale for f in action])
        self.offset = np.array([f.offset for f in action])
        self.command_type = str(p("command_type"))
        self.reader = make_command_reader(
            self.command_type, [f.target for f in action], command_joints=list(p("command_joints") or []),
            joint_command_field=str(p("joint_command_field")) or declared_command_field(action) or "position",
        )  # fmt: skip
        self.period = float(p("control_period")) or bundle_period
        if not self.period:
            raise SystemExit("sim_bridge: the env does not say its time step; set parameter control_period")
        self.mode = str(p("mode"))
        if self.mode not in ("realtime", "lockstep"):
            raise SystemExit(f"sim_bridge: parameter mode is '{self.mode}'; expected realtime or lockstep")
        env_dim = int(np.prod(self.env.observation_space.shape))
        if env_dim != len(self.obs_fields):
            raise SystemExit(
                f"sim_bridge: the env observes {env_dim} values but the layout has {len(self.obs_fields)} "
                f"sensor fields ({[observation[i].name for i in self.obs_fields]})"
            )
        self.held = np.array([f.safe for f in action])  # the safe command until the first arrives
        self.full_obs = np.zeros(len(observation))
        # lockstep stamps: simulated time since the bridge started (steps x their dt), so a
        # time-aware policy node that takes dt from stamps sees the simulated step durations
        self.sim_time_ns = 0

        self.seed = int(p("seed"))
        self.max_episodes = int(p("max_episodes"))
        self.lockstep_timeout = float(p("lockstep_timeout"))
        self.connect_timeout = float(p("connect_timeout"))
        self.result_timeout = float(p("result_timeout"))
        self.command_topic = str(p("command_topic"))

        qos = qos_profile(str(p("sensor_qos")), 10)
        groups = self.builder.groups + (self.robot_builder.groups if self.robot_builder else [])
        self.sensor_pubs = {
            g: self.create_publisher(SENSOR_MSG_TYPES[g], str(p(f"{g}_topic")), qos) for g in groups
        }
        self.create_subscription(
            COMMAND_TYPES[self.command_type],
            self.command_topic,
            self._on_command,
            qos_profile("reliable", 10),
        )
        self.return_pub = self.create_publisher(Float64, RETURN_TOPIC, result_qos(self.max_episodes))
        service = str(p("policy_reset_service"))
        services = [service, *(str(s) for s in p("reset_services") or [])]
        landed = self._on_resets_landed if self.mode == "realtime" else None
        self.resets = EpisodeResets(self, services, on_landed=landed)
        self.policy_reset = self.resets.clients[0] if service else None

        self._created = time.monotonic()
        self._waits_over: set[str] = set()  # the first episode's waits that have ended
        self.episode = 0
        self.episode_return = 0.0
        self.episode_steps = 0
        self.returns: list[float] = []
        self.commands_received = 0
        self.bad_commands = 0
        self.lockstep_timeouts = 0
        self.done = False  # run_node exits when set
        self._waiting_since: float | None = None  # lockstep: time the pending observation went out
        self._started = False
        self._first_reset_sent = False  # realtime: the policy reset before the first episode
        self._obs = self._reset_env()
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        tick = self.period if self.mode == "realtime" else min(0.005, self.period)
        self.timer = self.create_timer(tick, self._on_timer, clock=steady)
        self.get_logger().info(
            f"sim bridge: {self.env.spec.id if self.env.spec else self.env} ({self.mode}, "
            f"{1 / self.period:.1f} Hz), publishing {', '.join(self.sensor_pubs)}"
        )

    def _param(self, name: str) -> Any:
        return parameter(self, name)

    def _make_env(self) -> tuple[Any, list, list, float | None]:
        """(env, observation fields, action fields, control period) from the bundle or scenario."""
        from rnn_control.envs import control_period, describe_env, make_env  # lazy: never on a robot
        from rnn_control.envs.actions import command_to_env_action

        self._to_env_action = command_to_env_action
        bundle, scenario_name = str(self._param("bundle")), str(self._param("scenario"))
        seed = int(self._param("seed"))
        if bundle:
            meta = read_bundle_metadata(Path(bundle).expanduser())
            if not meta.scenario:
                raise SystemExit(
                    f"sim_bridge: bundle '{bundle}' stores no scenario; give the scenario parameter"
                )
            env = make_env(scenario_from_dict(meta.scenario).env, seed=seed)
            return env, meta.observation, meta.action, float(meta.control_period)
        if not scenario_name:
            raise SystemExit("sim_bridge: set parameter 'bundle' (a policy bundle) or 'scenario'")
        scenario = load_scenario(scenario_name)
        env = make_env(scenario.env, seed=seed)
        spaces = describe_env(env)  # with the env's declared layout, where it has one (joint space)
        observation, action = bundle_layout(
            scenario.io, spaces["observation"]["shape"][0], spaces["action"], fields=spaces.get("fields")
        )
        return env, observation, action, control_period(env)  # None: the env does not say

    # ------------------------------------------------------------------ callbacks
    def _on_timer(self) -> None:
        if self.done:
            return
        if self.mode == "realtime":
            self._realtime_tick()
        else:
            self._lockstep_tick()

    def _on_command(self, msg: Any) -> None:
        command = self.reader.read(msg)
        if command is None:
            self.bad_commands += 1
            return
        self.commands_received += 1
        self.held = command
        if self.mode == "lockstep" and self._waiting_since is not None and not self.done:
            self._lockstep_advance()

    def on_process_exit(self, reason: str) -> None:
        """Called by ``run_node`` before the node is destroyed: let every matched subscriber
        acknowledge the episode returns (at most ``result_timeout`` seconds)."""
        if not self.returns:
            return
        try:
            acked = self.return_pub.wait_for_all_acked(Duration(nanoseconds=round(self.result_timeout * 1e9)))
        except Exception as exc:  # an rmw without the call: nothing to wait on
            self.get_logger().warning(f"cannot confirm the delivery of the episode returns: {exc}")
            return
        if not acked:
            self.get_logger().warning(
                f"not every subscriber of {self.return_pub.topic_name} acknowledged the episode returns "
                f"within {self.result_timeout:.1f} s"
            )

    # ------------------------------------------------------------------ the two modes
    def _realtime_tick(self) -> None:
        if self.resets.under_way or self._waiting_for(POLICY, self._policy_connected):
            return  # the policy's reset must land before the next episode's first observation
        if not self._first_reset_sent and self.resets:
            # the first episode starts from a zero state too, and the service's first round trip
            # (slow while DDS still matches its reply path: 140 ms seen under load) comes before
            # any data, not between episodes, where it starved the policy node's watchdog
            self._first_reset_sent = True
            self.resets.call()
            return
        if self._started:  # apply the held command to the observation published last tick
            self._step_env()
        if self.done or self.resets.under_way:
            self._started = False  # next tick: publish the new episode's first observation
            return
        self._publish_observation()
        self._started = True

    def _on_resets_landed(self) -> None:
        """Realtime: the episode starts the moment its resets have answered, and the tick timer
        restarts there, so its first step lasts a whole period. Waiting for the next tick left a
        two-period gap in the sensor stream at every episode boundary."""
        if self.done or self._started:
            return
        self.timer.reset()
        self._realtime_tick()

    def _lockstep_tick(self) -> None:
        """(Re)publish only when not waiting for a command; step with the held one after
        ``lockstep_timeout``."""
        if self._waiting_since is not None:
            if time.monotonic() - self._waiting_since > self.lockstep_timeout:
                self.lockstep_timeouts += 1
                self._waiting_since = None
                self._step_env()
            return
        # no observation may be lost: the policy must be connected (no timeout), and the first
        # episode waits for a result subscriber (at most connect_timeout)
        if self.resets.under_way or not self._policy_connected():
            return
        if not self._started and self._waiting_for(RESULT_SUBSCRIBER, self._results_subscribed):
            return
        if not self._started and self._waiting_for(RESET_SERVICES, self.resets.offered):
            return
        if not self._started and self.resets:
            self._started = True
            self.resets.call()
            return
        self._started = True
        self._publish_pending()

    def _lockstep_advance(self) -> None:
        """The command for the pending observation arrived: step, and publish the next one."""
        self._waiting_since = None
        self._step_env()
        if not self.done and not self.resets.under_way:
            self._publish_pending()

    def _publish_pending(self) -> None:
        self._publish_observation()
        self._waiting_since = time.monotonic()

    # ------------------------------------------------------------------ env loop
    def _reset_env(self) -> np.ndarray:
        obs, _ = self.env.reset(seed=self.seed + self.episode)
        self.episode_return = 0.0
        self.episode_steps = 0
        return np.asarray(obs, dtype=np.float64).reshape(-1)

    def _step_env(self) -> None:
        action = self._to_env_action(self.held, self.env.action_space, self.scale, self.offset)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.sim_time_ns += round(float(info.get("dt", self.period)) * 1e9)
        self.episode_return += float(reward)
        self.episode_steps += 1
        self._obs = np.asarray(obs, dtype=np.float64).reshape(-1)
        if terminated or truncated:
            self._end_episode()

    def _end_episode(self) -> None:
        ret = self.episode_return
        self.returns.append(ret)
        self.return_pub.publish(Float64(data=ret))
        self.get_logger().info(f"episode {self.episode}: return {ret:.3f} over {self.episode_steps} steps")
        self.episode += 1
        if self.max_episodes and self.episode >= self.max_episodes:
            mean = float(np.mean(self.returns))
            self.get_logger().info(f"{self.episode} episodes: mean return {mean:.3f}; done")
            self.done = True
            return
        self._obs = self._reset_env()
        self.resets.call()

    def _publish_observation(self) -> None:
        self.full_obs[self.obs_fields] = self._obs[: len(self.obs_fields)]
        now = self.get_clock().now().nanoseconds if self.mode == "realtime" else self.sim_time_ns
        stamp = time_msg(now)
        messages = self.builder.build(self.full_obs, stamp)
        if self.robot_builder is not None:
            messages.update(self.robot_builder.build(self.env.unwrapped.data, self.full_obs, stamp))
        for group, msg in messages.items():
            self.sensor_pubs[group].publish(msg)

    # ------------------------------------------------------------------ before the first episode
    def _waiting_for(self, what: str, present: Callable[[], bool]) -> bool:
        """Hold the first episode until ``present()`` (``what`` is there) or, ``connect_timeout``
        seconds after start, start anyway with a warning; ``True`` while still waiting. Once over,
        a wait is not checked again."""
        if what in self._waits_over:
            return False
        waited = time.monotonic() - self._created
        if not present():
            if waited < self.connect_timeout:
                return True
            self.get_logger().warning(f"no {what} after {self.connect_timeout:.1f} s; starting anyway")
        else:
            self.get_logger().info(f"{what} after {waited:.1f} s; first episode starts")
        self._waits_over.add(what)
        return False

    def _policy_connected(self) -> bool:
        """Every sensor topic the bundle reads has a subscriber, the command topic a publisher, the
        reset service (if configured) answers."""
        if any(self.sensor_pubs[g].get_subscription_count() == 0 for g in self.read_groups):
            return False
        if self.policy_reset is not None and not self.policy_reset.service_is_ready():
            return False
        return self.count_publishers(self.command_topic) > 0

    def _results_subscribed(self) -> bool:
        """``~/episode_return`` has a matched subscriber."""
        return self.return_pub.get_subscription_count() > 0


def _robot_builder(env: Any, sources: list[str]) -> RobotMessageBuilder | None:
    """Robot-style sensor messages for an env that reads a robot's sensors (``reader``), else None."""
    try:
        reader = env.get_wrapper_attr("reader")
    except AttributeError:
        return None
    return RobotMessageBuilder(reader, sources) if hasattr(reader, "blocks") else None


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run rnn_control sim_bridge_node``."""
    return run_node(SimBridgeNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
