"""Joint-space IO for Gymnasium's MuJoCo robots: the observation a real robot measures, and a
declared layout naming joints instead of vector indices.

The wrapper replaces the env's observation with the chosen observation terms
(``rnn_control.envs.robots.terms``: joint positions/velocities/efforts by joint name, base IMU
and odometry), read from the simulation like a robot's drivers publish them; reward and
termination stay the env's. It declares the layout as :attr:`JointSpace.io_fields`, which every
wrapper passes through (``env.get_wrapper_attr("io_fields")``) and
``rnn_control.envs.spaces.describe_env`` stores in checkpoints: observation fields from the
terms, and one effort-mode action field ``joint/<joint>`` per actuator, in actuator order, with
``scale`` = the actuator's gear (the command is the joint torque; the env action stays ctrl).
Wrappers that change the observation layout map the declaration (``mask_velocity``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from rnn_control.envs.robots.commands import declared, effort_fields
from rnn_control.envs.robots.mjcf import RobotModel
from rnn_control.envs.robots.sensors import SensorReader
from rnn_control.envs.robots.terms import ObservationTerms
from rnn_control.envs.wrappers.latency import Latency
from rnn_control.errors import ConfigError
from rnn_control.scenario.robot import OBSERVATION_TERMS, ObservationTerm, parse_terms


class JointSpace(gym.ObservationWrapper):
    """Observation from ``terms`` (term names or ``{name: {joints|axes|body: ...}}``)."""

    def __init__(self, env: gym.Env, terms: list[Any]) -> None:
        super().__init__(env)
        where = "joint_space"
        model = getattr(env.unwrapped, "model", None)
        if model is None or not hasattr(env.unwrapped, "data"):
            raise ConfigError(
                f"{where}: {type(env.unwrapped).__name__} is not a MuJoCo env (needs model and data)"
            )
        e = env
        while isinstance(e, gym.Wrapper):
            if isinstance(e, (gym.ObservationWrapper, Latency)):
                raise ConfigError(
                    f"{where}: must come before {type(e).__name__} in env.wrappers (it replaces the "
                    "observation, so whatever changed it before would be lost)"
                )
            e = e.env
        name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
        self.robot = RobotModel(model, where=name)
        self.reader = SensorReader(self.robot)
        specs: list[ObservationTerm] = parse_terms(
            ObservationTerm, terms, OBSERVATION_TERMS, f"{where}.terms"
        )
        self.terms = ObservationTerms(self.robot, specs, self.reader, where=f"{where}.terms")
        space = env.action_space
        if not isinstance(space, gym.spaces.Box) or space.shape != (len(self.robot.actuators),):
            raise ConfigError(
                f"{where}: expected one action per actuator ({len(self.robot.actuators)}), got {space}"
            )
        n = len(self.terms.fields)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (n,), dtype=np.float32)
        self.io_fields: dict[str, list[dict[str, Any]]] = {
            "observation": self.terms.declared(),
            "action": declared(effort_fields(self.robot)),
        }

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        # reset ends in mj_forward, which leaves data.cacc (the accelerometer) stale; env.step
        # refreshes it after every step (Gymnasium's MujocoEnv calls mj_rnePostConstraint)
        mujoco.mj_rnePostConstraint(self.env.unwrapped.model, self.env.unwrapped.data)
        return self.observation(obs), info

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return self.terms.observe(self.env.unwrapped.data)

    def sensor_values(self) -> np.ndarray:
        """The robot's whole sensor reading after the last step (``self.reader.sources`` order)."""
        return self.reader.read(self.env.unwrapped.data)
