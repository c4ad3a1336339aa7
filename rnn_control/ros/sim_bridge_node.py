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

The environment comes from the bundle's metadata (``scenario``) or from the ``scenario``
parameter (a shipped name or a YAML path); gymnasium is imported lazily in here only: this node
never runs on a robot.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

from rnn_control.contract.layout import bundle_layout
from rnn_control.ros.common import qos_profile, run_node
from rnn_control.ros.messages import (
    COMMAND_TYPES,
    SENSOR_MSG_TYPES,
    CommandReader,
    SensorMessageBuilder,
    time_msg,
)
from rnn_control.runtime import read_bundle_metadata
from rnn_control.scenario import load_scenario, scenario_from_dict

PARAMETERS: dict[str, tuple[Any, str]] = {
    "bundle": ("", "policy bundle whose metadata holds the scenario and IO layout"),
    "scenario": ("", "scenario name or YAML path (used when no bundle is given)"),
    "seed": (0, "episode k is reset with seed + k"),
    "mode": ("realtime", "realtime: steady timer at the control period; lockstep: step on each command"),
    "control_period": (0.0, "seconds per env step; 0: the bundle's (or the env's dt)"),
    "lockstep_timeout": (1.0, "lockstep: seconds to wait for a command before stepping with the held one"),
    "connect_timeout": (10.0, "realtime: seconds to wait for the policy node before the first episode"),
    "max_episodes": (0, "exit after this many episodes; 0: run forever"),
    "policy_reset_service": ("", "Trigger service called at every episode start (e.g. /policy_node/reset)"),
    "joint_state_topic": ("joint_states", "sensor_msgs/JointState output"),
    "imu_topic": ("imu", "sensor_msgs/Imu output"),
    "odometry_topic": ("odom", "nav_msgs/Odometry output"),
    "twist_topic": ("cmd_vel", "geometry_msgs/Twist output"),
    "vector_topic": ("observation", "std_msgs/Float64MultiArray output"),
    "sensor_qos": ("sensor_data", "QoS of the sensor publishers: sensor_data or reliable"),
    "command_topic": ("command", "command input"),
    "command_type": ("float64_multi_array", "float64_multi_array, joint_state, joint_trajectory or twist"),
    "command_joints": (Parameter.Type.STRING_ARRAY, "joint order of joint commands; unset: action order"),
    "joint_command_field": ("position", "JointState/JointTrajectory field carrying the command"),
    "executor": ("single_threaded", "single_threaded, events or auto (see README: executor)"),
}


class SimBridgeNode(Node):
    """Gymnasium env <-> ROS topics."""

    def __init__(self, node_name: str = "sim_bridge", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        for name, (default, doc) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=doc))
        p = self._param
        self.env, observation, action, bundle_period = self._make_env()
        self.obs_fields = [i for i, f in enumerate(observation) if not f.source.startswith("last_action/")]
        self.builder = SensorMessageBuilder([f.source for f in observation])
        self.scale = np.array([f.scale for f in action])
        self.offset = np.array([f.offset for f in action])
        safe = np.array([f.safe for f in action])
        self.reader = CommandReader(
            str(p("command_type")),
            [f.target for f in action],
            command_joints=list(p("command_joints") or []),
            joint_command_field=str(p("joint_command_field")),
        )
        self.period = float(p("control_period")) or bundle_period
        if not self.period:
            raise SystemExit("sim_bridge: the env does not say its time step; set parameter control_period")
        self.mode = str(p("mode"))
        # lockstep stamps: simulated time since the bridge started (steps x their dt), so a
        # time-aware policy node that takes dt from stamps sees the simulated step durations
        self.sim_time_ns = 0
        if self.mode not in ("realtime", "lockstep"):
            raise SystemExit(f"sim_bridge: parameter mode is '{self.mode}'; expected realtime or lockstep")
        self.held = safe.copy()
        self.obs_dim = len(observation)
        env_dim = int(np.prod(self.env.observation_space.shape))
        if env_dim != len(self.obs_fields):
            raise SystemExit(
                f"sim_bridge: the env observes {env_dim} values but the layout has {len(self.obs_fields)} "
                f"sensor fields ({[observation[i].name for i in self.obs_fields]})"
            )
        self.full_obs = np.zeros(self.obs_dim)

        qos = qos_profile(str(p("sensor_qos")), 10)
        self.sensor_pubs = {
            g: self.create_publisher(SENSOR_MSG_TYPES[g], str(p(f"{g}_topic")), qos)
            for g in self.builder.groups
        }
        self.create_subscription(
            COMMAND_TYPES[str(p("command_type"))],
            str(p("command_topic")),
            self._on_command,
            qos_profile("reliable", 10),
        )
        self.return_pub = self.create_publisher(Float64, "~/episode_return", 10)
        service = str(p("policy_reset_service"))
        self.reset_client = self.create_client(Trigger, service) if service else None

        self.seed = int(p("seed"))
        self.max_episodes = int(p("max_episodes"))
        self.lockstep_timeout = float(p("lockstep_timeout"))
        self.connect_timeout = float(p("connect_timeout"))
        self._connected = False  # realtime: the first episode waits for the policy node
        self._created = time.monotonic()
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
        self._obs = self._reset_env()
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        tick = self.period if self.mode == "realtime" else min(0.005, self.period)
        self.timer = self.create_timer(tick, self._on_timer, clock=steady)
        self.get_logger().info(
            f"sim bridge: {self.env.spec.id if self.env.spec else self.env} ({self.mode}, "
            f"{1 / self.period:.1f} Hz), publishing {', '.join(self.builder.groups)}"
        )

    def _param(self, name: str) -> Any:
        try:
            return self.get_parameter(name).value
        except ParameterUninitializedException:
            return None

    def _make_env(self):
        """(env, observation fields, action fields, control period) from the bundle or scenario."""
        from rnn_control.envs import control_period, describe_spaces, make_env  # lazy: never on a robot
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
        spaces = describe_spaces(env.observation_space, env.action_space)
        observation, action = bundle_layout(scenario.io, spaces["observation"]["shape"][0], spaces["action"])
        return env, observation, action, control_period(env)  # None: the env does not say

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
        self._reset_policy()

    def _reset_policy(self) -> None:
        """Start the policy's next episode from a zero state (waits in lockstep mode)."""
        if self.reset_client is None:
            return
        self._resetting = True
        future = self.reset_client.call_async(Trigger.Request())
        future.add_done_callback(lambda _: setattr(self, "_resetting", False))

    def _publish_observation(self) -> None:
        self.full_obs[self.obs_fields] = self._obs[: len(self.obs_fields)]
        now = self.get_clock().now().nanoseconds if self.mode == "realtime" else self.sim_time_ns
        for group, msg in self.builder.build(self.full_obs, time_msg(now)).items():
            self.sensor_pubs[group].publish(msg)

    def _ready(self) -> bool:
        """Lockstep needs the policy connected before the first observation (none may be lost)."""
        return not getattr(self, "_resetting", False) and self._policy_connected()

    def _wait_for_policy(self) -> bool:
        """Realtime: hold the first episode until the policy node is connected (or, after
        ``connect_timeout`` seconds, start anyway); ``True`` while still waiting."""
        if self._connected:
            return False
        waited = time.monotonic() - self._created
        if not self._policy_connected():
            if waited < self.connect_timeout:
                return True
            self.get_logger().warning(
                f"no policy node connected after {self.connect_timeout:.1f} s (sensor subscribers, a "
                f"command publisher, the reset service); starting anyway"
            )
        else:
            self.get_logger().info(f"policy node connected after {waited:.1f} s; first episode starts")
        self._connected = True
        return False

    def _policy_connected(self) -> bool:
        """Every sensor topic has a subscriber, the command topic a publisher, the reset service
        (if configured) answers."""
        if any(pub.get_subscription_count() == 0 for pub in self.sensor_pubs.values()):
            return False
        if self.reset_client is not None and not self.reset_client.service_is_ready():
            return False
        return self.count_publishers(str(self._param("command_topic"))) > 0

    def _on_timer(self) -> None:
        if self.done:
            return
        if self.mode == "realtime":
            if getattr(self, "_resetting", False) or self._wait_for_policy():
                return  # the policy's reset must land before the next episode's first observation
            if self._started:  # apply the held command to the observation published last tick
                self._step_env()
            if self.done or getattr(self, "_resetting", False):
                self._started = False  # next tick: publish the new episode's first observation
                return
            self._publish_observation()
            self._started = True
            return
        # lockstep: (re)publish only when not waiting for a command
        now = time.monotonic()
        if self._waiting_since is None:
            if not self._ready():
                return
            if not self._started and self.reset_client is not None:
                self._started = True
                self._reset_policy()
                return
            self._started = True
            self._publish_observation()
            self._waiting_since = now
        elif now - self._waiting_since > self.lockstep_timeout:
            self.lockstep_timeouts += 1
            self._waiting_since = None
            self._step_env()

    def _on_command(self, msg: Any) -> None:
        command = self.reader.read(msg)
        if command is None:
            self.bad_commands += 1
            return
        self.commands_received += 1
        self.held = command
        if self.mode == "lockstep" and self._waiting_since is not None and not self.done:
            self._waiting_since = None
            self._step_env()
            if not self.done and not getattr(self, "_resetting", False):
                self._publish_observation()
                self._waiting_since = time.monotonic()


def main(args: list[str] | None = None) -> int:
    """Entry point of ``ros2 run rnn_control sim_bridge_node``."""
    return run_node(SimBridgeNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
