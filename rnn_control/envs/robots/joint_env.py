"""Your own robot from an MJCF file: a joint-space Gymnasium env configured by a scenario's
``env.robot`` section (schema: ``rnn_control.scenario.robot``), no Gymnasium class to write.

- **Commands.** The action is the policy output, in ``[-1, 1]`` per commanded joint; each joint's
  command is ``offset + scale * output`` clipped to its limits (``offset`` = the default position
  in position mode). At every physics step (``frame_skip`` per control step) the env turns the
  commands into efforts like a robot's hardware interface: ``position``:
  ``kp (target - q) - kd dq``, ``velocity``: ``kd (target - dq)``, ``effort``: the command;
  clipped to the effort limit and applied through the joint's MJCF ``<motor>``.
- **Observation** from terms (``rnn_control.envs.robots.terms``), **reward** and **termination**
  from terms (:mod:`.rewards`, :mod:`.terminations`).
- **Task.** ``target``: a mocap body moved to a random point of a box at every reset;
  ``command``: velocity commands drawn per episode.
- **Declared layout** (:attr:`JointSpaceEnv.io_fields`): the observation fields of the terms and
  one ``joint/<joint>`` action field per commanded joint with its whole contract (mode, default
  position, scale, limits, kp/kd, effort limit), so an exported bundle drives the real robot the
  way this env drove the simulated one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

from rnn_control.config import from_dict
from rnn_control.envs.robots.commands import declared, joint_fields
from rnn_control.envs.robots.mjcf import RobotModel, load_mjcf
from rnn_control.envs.robots.rewards import RewardTerms, StepState
from rnn_control.envs.robots.sensors import SensorReader
from rnn_control.envs.robots.terminations import Terminations
from rnn_control.envs.robots.terms import ObservationTerms
from rnn_control.errors import ConfigError
from rnn_control.scenario import scenario_dirs
from rnn_control.scenario.robot import COMMAND_AXES, JOINT_SPACE_ID, RobotConfig

RENDER_MODES = ["human", "rgb_array", "depth_array"]


def resolve_mjcf(mjcf: str, scenario_dir: str | None = None, where: str = "env.robot.mjcf") -> Path:
    """The MJCF file ``mjcf`` names: absolute, or relative to the scenario's folder, the working
    directory, a scenario folder (``sim/``) or its ``robots/``; ``ConfigError`` listing where it looked."""
    path = Path(mjcf).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        bases = [Path(scenario_dir)] if scenario_dir else []
        bases += [Path.cwd()]
        for d in scenario_dirs():
            bases += [d, d / "robots"]
        candidates = [b / path for b in dict.fromkeys(bases)]
    for c in candidates:
        if c.is_file():
            return c
    looked = ", ".join(str(c.parent) for c in candidates)
    raise ConfigError(f"{where}: MJCF file '{mjcf}' not found (looked in {looked})")


class JointSpaceEnv(MujocoEnv):
    """A MuJoCo robot from an MJCF file and an ``env.robot`` section (module doc)."""

    metadata = {"render_modes": RENDER_MODES}  # noqa: RUF012 (render_fps set per instance)

    def __init__(
        self, robot: RobotConfig | dict[str, Any], render_mode: str | None = None, **render: Any
    ) -> None:
        where = "env.robot"
        cfg = from_dict(RobotConfig, robot, where)
        self.cfg = cfg
        path = resolve_mjcf(cfg.mjcf, cfg.scenario_dir, f"{where}.mjcf")
        self._model = load_mjcf(path)
        self.robot = RobotModel(self._model, where=path.name)
        self.reader = SensorReader(self.robot)
        self._setup_joints(where)
        self._setup_task(where)
        dt = self._model.opt.timestep * cfg.frame_skip
        self.terms = ObservationTerms(
            self.robot,
            cfg.observation_terms(),
            self.reader,
            command=self._command_dict if cfg.command else None,
            where=f"{where}.observation",
        )
        self.rewards = RewardTerms(self.robot, self.reader, cfg.reward_terms(), f"{where}.reward")
        self.terminations = Terminations(self.robot, cfg.termination_terms(), dt, f"{where}.termination")
        self.metadata = {"render_modes": RENDER_MODES, "render_fps": int(np.round(1.0 / dt))}
        n_obs = len(self.terms.fields)
        obs_space = gym.spaces.Box(-np.inf, np.inf, (n_obs,), dtype=np.float32)
        super().__init__(str(path), cfg.frame_skip, obs_space, render_mode=render_mode, **render)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (len(cfg.joints),), dtype=np.float32)
        self.io_fields: dict[str, list[dict[str, Any]]] = {
            "observation": self.terms.declared(),
            "action": declared(self.action_fields),
        }
        self._cmd = np.clip(self._offset, self._low, self._high)
        self._action = np.zeros(len(cfg.joints))
        self._prev_action = np.zeros(len(cfg.joints))
        self._steps = 0

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        model = self._model  # compiled once, by load_mjcf (errors name the file)
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
        return model, mujoco.MjData(model)

    def _setup_joints(self, where: str) -> None:
        specs = self.cfg.joints
        joints = [self.robot.joint(s.name, f"{where}.joints[{i}].name") for i, s in enumerate(specs)]
        actuators = [
            self.robot.actuator_for(s.name, f"{where}.joints[{i}].name") for i, s in enumerate(specs)
        ]
        limits = []
        for i, (spec, act) in enumerate(zip(specs, actuators)):
            here = f"{where}.joints[{i}] ({spec.name})"
            if not act.is_motor:
                raise ConfigError(
                    f"{here}: actuator '{act.name}' is a servo (gain or bias set: a <position>/<velocity> "
                    "actuator); the env closes the loop itself and needs a <motor>"
                )
            limit = min(spec.effort_limit or math.inf, act.effort_limit)
            if not math.isfinite(limit):
                raise ConfigError(f"{here}: no effort limit; set effort_limit or the motor's ctrlrange")
            limits.append(limit)
        self.action_fields = joint_fields(self.robot, specs, limits)
        modes = np.array([s.mode for s in specs])
        self._qpos = np.array([j.qpos_adr for j in joints], dtype=np.intp)
        self._dof = np.array([j.dof_adr for j in joints], dtype=np.intp)
        self._act = np.array([a.id for a in actuators], dtype=np.intp)
        self._ctrl_per_effort = np.array([1.0 / a.effort_per_ctrl for a in actuators])
        self._default = np.array([s.default for s in specs])
        f = self.action_fields
        self._offset = np.array([a.offset for a in f])
        self._scale = np.array([a.scale for a in f])
        self._low, self._high = np.array([a.low for a in f]), np.array([a.high for a in f])
        self._limit = np.array(limits)
        self._kp = np.where(modes == "position", [s.kp or 0.0 for s in specs], 0.0)
        self._kd = np.where(modes == "effort", 0.0, [s.kd or 0.0 for s in specs])
        self._is_position, self._is_velocity = modes == "position", modes == "velocity"
        self._is_effort = modes == "effort"
        self.effort = np.zeros(len(specs))

    def _setup_task(self, where: str) -> None:
        t = self.cfg.target
        self._mocap = -1
        if t is not None:
            body = self.robot.body_id(t.body, f"{where}.target.body")
            self._mocap = int(self.robot.model.body_mocapid[body])
            if self._mocap < 0:
                raise ConfigError(
                    f"{where}.target.body: body '{t.body}' must be a mocap body (mocap=\"true\")"
                )
        self._command = np.zeros(len(COMMAND_AXES))
        if self.cfg.command:
            self.robot.require_floating(f"{where}.command")

    def _command_dict(self) -> dict[str, float]:
        return {a: float(v) for a, v in zip(COMMAND_AXES, self._command)}

    @property
    def command(self) -> np.ndarray:
        """The joints' commands of the last step (command units: rad, rad/s, N*m ...)."""
        return self._cmd

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        m, d = self.model, self.data
        self._prev_action[:] = self._action
        self._action[:] = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        cmd = np.clip(self._offset + self._scale * self._action, self._low, self._high)
        self._cmd = cmd
        target = np.where(self._is_position, cmd, 0.0)
        feedforward = np.where(self._is_velocity, self._kd * cmd, np.where(self._is_effort, cmd, 0.0))
        kp, kd, limit, qpos, dof = self._kp, self._kd, self._limit, self._qpos, self._dof
        for _ in range(self.frame_skip):  # the PD loop at the physics rate
            effort = kp * (target - d.qpos[qpos]) - kd * d.qvel[dof] + feedforward
            np.clip(effort, -limit, limit, out=effort)
            d.ctrl[self._act] = effort * self._ctrl_per_effort
            mujoco.mj_step(m, d)
        if self.robot.floating:
            mujoco.mj_rnePostConstraint(m, d)  # the accelerometer (data.cacc)
        self.effort = effort
        self._steps += 1
        reading = self.reader.read(d)
        obs = self.terms.observe(d, reading)
        state = StepState(d, reading, effort, d.qvel[dof], self._action, self._prev_action, self._command)
        reward = self.rewards(state)
        terminated = self.terminations.terminated(d)
        truncated = self.terminations.truncated(self._steps)
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminated, truncated, {}

    def reset_model(self) -> np.ndarray:
        qpos, qvel = self.init_qpos.copy(), np.zeros_like(self.init_qvel)
        noise = self.cfg.reset_noise
        qpos[self._qpos] = self._default + self.np_random.uniform(-noise, noise, len(self._qpos))
        t = self.cfg.target
        if t is not None:
            self.data.mocap_pos[self._mocap] = self.np_random.uniform(t.low, t.high)
        for i, axis in enumerate(COMMAND_AXES):
            lo, hi = self.cfg.command.get(axis, (0.0, 0.0))
            self._command[i] = self.np_random.uniform(lo, hi)
        self.set_state(qpos, qvel)
        if self.robot.floating:
            mujoco.mj_rnePostConstraint(self.model, self.data)
        self._action[:] = 0.0
        self._prev_action[:] = 0.0
        self._cmd = np.clip(self._offset, self._low, self._high)
        self.effort = np.zeros(len(self._qpos))
        self._steps = 0
        return self.terms.observe(self.data)


def register_joint_space_env() -> None:
    """Register :data:`JOINT_SPACE_ID` with Gymnasium (idempotent); ``make_env`` does it when a
    scenario has a robot section."""
    if JOINT_SPACE_ID not in gym.registry:
        gym.register(JOINT_SPACE_ID, entry_point=JointSpaceEnv, disable_env_checker=True)
