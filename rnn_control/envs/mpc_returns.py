"""Model-predictive control driving a scenario in-process: the reference for the MPC closed loop
over ROS, and the oracle (MPC on the true simulator) that learned-model MPC is measured against.

- :func:`mpc_returns`: a planning bundle stepped by :class:`~rnn_control.runtime.mpc.MpcController`
  in the scenario stored in its metadata; episode ``k`` is reset with ``seed + k``, as the sim
  bridge does, and the controller is reset at every episode start (as the bridge's reset call does).
- :class:`PendulumOracle`: Pendulum-v1's own equations, vectorised over the candidates, from the
  simulator's true state: the same planner and budget with a perfect model.
- :class:`MujocoOracle`: the same for a Gymnasium MuJoCo env whose observation is its ``qpos`` and
  ``qvel`` (InvertedPendulum, also behind ``mask_velocity``): the env's own physics from its full
  state, every candidate rolled out in C by ``mujoco.rollout``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.contract.layout import bundle_layout
from rnn_control.envs.actions import command_to_env_action
from rnn_control.envs.factory import make_env
from rnn_control.envs.spaces import describe_env
from rnn_control.runtime.io_spec import IOSpec
from rnn_control.runtime.mpc import MpcController
from rnn_control.runtime.planners import Cost, make_planner
from rnn_control.runtime.planning import model_bounds
from rnn_control.scenario import Scenario, scenario_from_dict
from rnn_control.scenario.mpc import MpcConfig


def run_episode(env: Any, act: Any, seed: int, max_steps: int | None = None) -> tuple[float, int]:
    """One episode of ``act(obs) -> env action`` from ``env.reset(seed=seed)``: (return, steps)."""
    obs, _ = env.reset(seed=seed)
    total, steps, done = 0.0, 0, False
    while not done and (max_steps is None or steps < max_steps):
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        total += float(reward)
        steps += 1
        done = terminated or truncated
    return total, steps


def mpc_returns(
    bundle: str | Path,
    episodes: int,
    seed: int = 0,
    config: MpcConfig | dict | None = None,
    controller: MpcController | None = None,
    **model_kwargs: Any,
) -> list[float]:
    """Episode returns of MPC with ``bundle`` in the scenario stored in its metadata."""
    mpc = controller or MpcController.load(bundle, config, **model_kwargs)
    spec = mpc.spec
    env = make_env(scenario_from_dict(mpc.metadata.scenario).env)
    returns = []
    for k in range(episodes):
        mpc.reset()

        def act(obs: np.ndarray) -> Any:
            return command_to_env_action(mpc.step(obs), env.action_space, spec.scale, spec.offset)

        returns.append(run_episode(env, act, seed + k)[0])
    env.close()
    return returns


class PendulumOracle:
    """Pendulum-v1 dynamics (true state, true equations) as a planner's rollout model.

    ``sync(env)`` reads the simulator's state before each solve; the predictions are the
    observations the env would return (``cos``/``sin`` of the angle, as ``mask_velocity`` leaves them,
    or with the velocity when the env shows it).
    """

    def __init__(self, env: Any, horizon: int, batch: int, obs_dim: int = 2) -> None:
        u = env.unwrapped
        if type(u).__name__ != "PendulumEnv":
            raise ValueError(f"PendulumOracle needs Pendulum-v1, got {type(u).__name__}")
        self.g, self.m, self.l, self.dt = u.g, u.m, u.l, u.dt
        self.max_speed, self.max_torque = u.max_speed, u.max_torque
        self.horizon, self.batch, self.members = horizon, batch, 1
        self.obs_dim, self.act_dim = obs_dim, 1
        self.actions = np.zeros((horizon, batch, 1), dtype=np.float32)
        self._out = np.zeros((horizon, 1, batch, obs_dim), dtype=np.float32)
        self.state = np.zeros(2)

    def sync(self, env: Any) -> None:
        self.state = np.array(env.unwrapped.state, dtype=np.float64)

    def rollout(self) -> np.ndarray:
        th = np.full(self.batch, self.state[0])
        thdot = np.full(self.batch, self.state[1])
        for t in range(self.horizon):
            u = np.clip(self.actions[t, :, 0].astype(np.float64), -self.max_torque, self.max_torque)
            thdot = (
                thdot + (3 * self.g / (2 * self.l) * np.sin(th) + 3.0 / (self.m * self.l**2) * u) * self.dt
            )
            thdot = np.clip(thdot, -self.max_speed, self.max_speed)
            th = th + thdot * self.dt
            self._out[t, 0, :, 0], self._out[t, 0, :, 1] = np.cos(th), np.sin(th)
            if self.obs_dim > 2:
                self._out[t, 0, :, 2] = thdot
        return self._out


class MujocoOracle:
    """A Gymnasium MuJoCo env's own physics as a planner's rollout model (see the module docstring).

    The predictions are the env's observations, ``concat(qpos, qvel)`` through the ``keep`` of a
    ``mask_velocity`` wrapper if there is one, after each control step (``frame_skip`` physics
    steps with the action as ``ctrl``)."""

    def __init__(self, env: Any, horizon: int, batch: int) -> None:
        import mujoco

        u = env.unwrapped
        if not hasattr(u, "model") or not hasattr(u, "frame_skip"):
            raise ValueError(f"MujocoOracle needs a Gymnasium MuJoCo env, got {type(u).__name__}")
        self.mujoco = mujoco
        self.model, self.data, self.frame_skip = u.model, mujoco.MjData(u.model), int(u.frame_skip)
        width = u.model.nq + u.model.nv
        if env.unwrapped.observation_space.shape[0] != width:
            raise ValueError(f"MujocoOracle: {type(u).__name__}'s observation is not qpos and qvel")
        try:  # mask_velocity's kept entries, as the wrapper itself finds a wrapped env's layout
            keep = env.get_wrapper_attr("keep")
        except AttributeError:
            keep = np.arange(width)
        self.keep = np.asarray(keep)
        self.horizon, self.batch, self.members = horizon, batch, 1
        self.obs_dim, self.act_dim = len(self.keep), u.model.nu
        self.actions = np.zeros((horizon, batch, self.act_dim), dtype=np.float32)
        self._out = np.zeros((horizon, 1, batch, self.obs_dim), dtype=np.float32)
        self.spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.state = np.zeros(mujoco.mj_stateSize(u.model, self.spec))

    def sync(self, env: Any) -> None:
        self.mujoco.mj_getState(self.model, env.unwrapped.data, self.state, self.spec)

    def rollout(self) -> np.ndarray:
        from mujoco import rollout

        control = np.repeat(self.actions.transpose(1, 0, 2).astype(np.float64), self.frame_skip, axis=1)
        states, _ = rollout.rollout(self.model, self.data, self.state[None], control)
        nq, nv = self.model.nq, self.model.nv
        after = states[:, self.frame_skip - 1 :: self.frame_skip, 1 : 1 + nq + nv]  # [K, H, qpos qvel]
        self._out[:, 0] = after[..., self.keep].transpose(1, 0, 2)
        return self._out


def make_oracle(env: Any, horizon: int, batch: int, obs_dim: int) -> PendulumOracle | MujocoOracle:
    """The true-simulator rollout model for ``env``: Pendulum-v1's equations or MuJoCo's physics."""
    if type(env.unwrapped).__name__ == "PendulumEnv":
        return PendulumOracle(env, horizon, batch, obs_dim)
    return MujocoOracle(env, horizon, batch)


def oracle_returns(
    scenario: Scenario, episodes: int, seed: int = 0, samples: int = 256, horizon: int = 30
) -> list[float]:
    """Returns of the scenario's MPC planner and cost on the true simulator (:func:`make_oracle`)."""
    env = make_env(scenario.env)
    spaces = describe_env(env)
    observation, action = bundle_layout(scenario.io, spaces["observation"]["shape"][0], spaces["action"])
    spec = IOSpec(observation, action)
    cfg = scenario.mpc
    oracle = make_oracle(env, cfg.horizon or horizon, cfg.samples or samples, len(observation))
    dt = float(env.unwrapped.dt)
    cost = Cost(cfg.cost, spec.observation_names, spec.action_names, dt)
    low, high = model_bounds(spec)
    planner = make_planner(oracle, cost, cfg, low, high)
    returns = []
    for k in range(episodes):
        planner.reset()
        prev = np.array(planner.center, dtype=np.float64)

        def act(obs: np.ndarray) -> Any:
            nonlocal prev
            oracle.sync(env)
            result = planner.solve(obs, prev)
            a = result.action if result.action is not None else spec.safe
            prev = np.clip(a, low, high)
            return command_to_env_action(
                spec.offset + spec.scale * prev, env.action_space, spec.scale, spec.offset
            )

        returns.append(run_episode(env, act, seed + k)[0])
    env.close()
    return returns
