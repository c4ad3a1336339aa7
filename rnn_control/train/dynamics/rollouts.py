"""Rollout collection from vectorised Gymnasium envs, stored as episodes with done flags.

:class:`EpisodeDataset` keeps transitions of whole episodes back to back (flat arrays), with
``episode_start`` marking the first step of each episode and ``terminated`` / ``truncated``
the last one. That layout is what truncated-BPTT sampling wants: a chunk can span an episode
boundary and the sampler passes ``episode_start`` on so the recurrent state is reset there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.atomic import atomic_open
from rnn_control.envs import describe_env, make_env, make_vec_env
from rnn_control.envs.timing import control_period
from rnn_control.errors import ConfigError
from rnn_control.scenario import EnvConfig
from rnn_control.train.common.progress import Progress
from rnn_control.train.dynamics.exploration import make_exploration

FIELDS = ("obs", "act", "next_obs", "episode_start", "terminated", "truncated")


@dataclass
class EpisodeDataset:
    """Flat transitions ``[N, ...]`` of consecutive episodes.

    ``obs[i]``, ``act[i]`` -> ``next_obs[i]``; ``episode_start[i]`` is True on an episode's first
    transition, ``terminated[i]`` / ``truncated[i]`` on its last.
    """

    obs: np.ndarray
    act: np.ndarray
    next_obs: np.ndarray
    episode_start: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray

    def __len__(self) -> int:
        return self.obs.shape[0]

    @property
    def obs_dim(self) -> int:
        """Observation size."""
        return self.obs.shape[1]

    @property
    def act_dim(self) -> int:
        """Action size."""
        return self.act.shape[1]

    @property
    def episode_bounds(self) -> list[tuple[int, int]]:
        """``(first, end)`` transition index range of every episode."""
        starts = np.flatnonzero(self.episode_start).tolist()
        return list(zip(starts, [*starts[1:], len(self)]))

    @property
    def num_episodes(self) -> int:
        """How many episodes the dataset holds."""
        return int(self.episode_start.sum())

    def episode(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Episode ``i`` as observations ``[T+1, o]`` and actions ``[T, a]``."""
        a, b = self.episode_bounds[i]
        return np.concatenate([self.obs[a:b], self.next_obs[b - 1 : b]]), self.act[a:b]

    def select(self, episodes: list[int] | np.ndarray) -> EpisodeDataset:
        """A dataset of the given episodes (in that order)."""
        bounds = self.episode_bounds
        idx = np.concatenate([np.arange(*bounds[i]) for i in episodes]) if len(episodes) else np.zeros(0, int)
        return EpisodeDataset(**{f: getattr(self, f)[idx] for f in FIELDS})

    def split(self, num_heldout: int, seed: int = 0) -> tuple[EpisodeDataset, EpisodeDataset]:
        """(train, held-out) by whole episodes, chosen at random."""
        order = np.random.default_rng(seed).permutation(self.num_episodes)
        return self.select(np.sort(order[num_heldout:])), self.select(np.sort(order[:num_heldout]))

    def nonfinite_count(self) -> int:
        """How many NaN / infinite entries ``obs``, ``act`` and ``next_obs`` hold."""
        return int(sum((~np.isfinite(getattr(self, f))).sum() for f in ("obs", "act", "next_obs")))

    def save(self, path: str | Path) -> Path:
        """Write the dataset to ``path`` (compressed ``.npz``, atomically)."""
        with atomic_open(path, "wb") as out:
            np.savez_compressed(out, **{f: getattr(self, f) for f in FIELDS})
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> EpisodeDataset:
        """Read a dataset :meth:`save` wrote (:class:`ConfigError` naming what is wrong)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such dataset file")
        with np.load(path) as data:
            missing = [f for f in FIELDS if f not in data]
            if missing:
                raise ConfigError(f"{path}: not an episode dataset (missing {', '.join(missing)})")
            return cls(**{f: data[f] for f in FIELDS})


def box_spaces(env_cfg: EnvConfig) -> tuple[dict[str, Any], float | None]:
    """The checkpoint's ``spaces`` entry (``describe_env``: the observation and action boxes, and
    the env's declared layout under ``fields`` if it has one) and the control period of a
    scenario's env (None when the env does not say)."""
    import gymnasium as gym

    env = make_env(env_cfg)
    try:
        obs_space, act_space = env.observation_space, env.action_space
        if not isinstance(act_space, gym.spaces.Box) or not isinstance(obs_space, gym.spaces.Box):
            raise ConfigError(
                f"env.id: dynamics models need Box observation and action spaces; '{env_cfg.id}' has "
                f"{type(obs_space).__name__} observations and {type(act_space).__name__} actions"
            )
        return describe_env(env), control_period(env)
    finally:
        env.close()


def collect_rollouts(
    env_cfg: EnvConfig,
    num_episodes: int,
    exploration: str = "mixed",
    seed: int = 0,
    num_envs: int | None = None,
    noise_scale: float = 0.5,
    pink_beta: float = 1.0,
    ou_theta: float = 0.15,
    progress: bool = False,
) -> EpisodeDataset:
    """Run ``num_envs`` envs with an exploration policy until ``num_episodes`` episodes are done.

    Episodes are stored in the order they finish. The terminal observation of every episode is
    taken from ``info["final_obs"]`` (same-step autoreset), never from the next episode's reset.
    """
    spaces, dt = box_spaces(env_cfg)
    act_space = spaces["action"]
    n = min(num_envs or env_cfg.num_envs, num_episodes)
    venv = make_vec_env(env_cfg, n, seed=seed)
    low, high = np.asarray(act_space["low"]), np.asarray(act_space["high"])
    policy = make_exploration(
        exploration, env_cfg.id, low, high, n, seed + 1, noise_scale, pink_beta, ou_theta, dt or 0.05
    )
    bar = Progress(num_episodes, "collecting episodes", "ep", enabled=progress, leave=False)
    current: list[dict[str, list]] = [{f: [] for f in FIELDS} for _ in range(n)]
    done_eps: list[dict[str, np.ndarray]] = []
    try:
        obs, _ = venv.reset(seed=seed)
        policy.reset(np.ones(n, dtype=bool))
        while len(done_eps) < num_episodes:
            act = policy.act(obs).astype(np.float32)
            next_obs, _, term, trunc, info = venv.step(act)
            ended = np.logical_or(term, trunc)
            for i in range(n):
                ep = current[i]
                final = info["final_obs"][i] if ended[i] else next_obs[i]
                ep["obs"].append(obs[i])
                ep["act"].append(act[i])
                ep["next_obs"].append(final)
                ep["episode_start"].append(len(ep["obs"]) == 1)
                ep["terminated"].append(bool(term[i]))
                ep["truncated"].append(bool(trunc[i]))
                if ended[i]:
                    if len(done_eps) < num_episodes:
                        done_eps.append({f: np.asarray(v) for f, v in ep.items()})
                        bar.update(1)
                    current[i] = {f: [] for f in FIELDS}
            policy.reset(ended)
            obs = next_obs
    finally:
        venv.close()
        bar.close()
    cat = {f: np.concatenate([e[f] for e in done_eps]) for f in FIELDS}
    for f in ("obs", "act", "next_obs"):
        cat[f] = cat[f].astype(np.float32).reshape(len(cat[f]), -1)
    return EpisodeDataset(**cat)
