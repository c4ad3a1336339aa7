"""Build single and vectorised environments from a scenario's ``env:`` section."""

from __future__ import annotations

import difflib

import gymnasium as gym

from rnn_control.envs.robots.joint_env import register_joint_space_env
from rnn_control.envs.wrappers import apply_wrapper
from rnn_control.errors import ConfigError
from rnn_control.scenario import EnvConfig


def check_env_config(cfg: EnvConfig, where: str = "env") -> None:
    """``ConfigError`` unless ``cfg.id`` names an installed Gymnasium env (with close matches).

    A robot section's joint-space env is registered here (its MJCF is checked when it is built)."""
    if cfg.robot is not None:
        register_joint_space_env()
    if cfg.id not in gym.registry:
        close = difflib.get_close_matches(cfg.id, list(gym.registry), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"{where}.id: unknown Gymnasium env '{cfg.id}'{hint}")


def make_env(cfg: EnvConfig, seed: int | None = None, render_mode: str | None = None) -> gym.Env:
    """One environment with the scenario's wrappers applied (innermost first)."""
    check_env_config(cfg)
    kwargs = dict(cfg.kwargs)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    if cfg.robot is not None:
        kwargs["robot"] = cfg.robot  # rnn_control/JointSpace-v0: the robot from its MJCF file
    env = gym.make(cfg.id, max_episode_steps=cfg.max_episode_steps, **kwargs)
    for i, item in enumerate(cfg.wrappers):
        name, params = next(iter(item.items()))
        env = apply_wrapper(env, name, params, f"env.wrappers[{i}].{name}")
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def make_vec_env(cfg: EnvConfig, num_envs: int | None = None, seed: int = 0) -> gym.vector.VectorEnv:
    """``num_envs`` copies (default ``cfg.num_envs``) with same-step autoreset.

    With ``AutoresetMode.SAME_STEP`` the observation returned on a terminal step is already the
    first observation of the next episode; the terminal one is in ``info["final_obs"]``.

    ``cfg.vectorization: async`` steps each env in its own worker process (gymnasium's
    ``AsyncVectorEnv``, shared-memory observations). Env ``i`` is seeded ``seed + i`` either way,
    and the results (observations, rewards, flags, merged infos, PPO training) are bit-identical
    to ``sync`` (tests/test_vector_envs.py). It only pays where stepping the envs costs more than
    a pipe round trip per env and step: on 2 cores it was slower than ``sync`` for PendulumNoVel
    and HalfCheetah (BENCHMARKS.md, "Scaling out").
    """
    check_env_config(cfg)
    n = num_envs or cfg.num_envs
    fns = [lambda i=i: make_env(cfg) for i in range(n)]
    mode = gym.vector.AutoresetMode.SAME_STEP
    if cfg.vectorization == "async" and n > 1:
        venv: gym.vector.VectorEnv = gym.vector.AsyncVectorEnv(fns, autoreset_mode=mode)
    else:
        venv = gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)
    venv.reset(seed=seed)
    venv.action_space.seed(seed)
    return venv
