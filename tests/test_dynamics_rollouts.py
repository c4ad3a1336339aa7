"""Rollout collection from real vectorised Gymnasium envs: episodes, done flags, exploration."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_control.errors import ConfigError
from rnn_control.scenario import EnvConfig
from rnn_control.train.dynamics.exploration import make_exploration
from rnn_control.train.dynamics.rollouts import EpisodeDataset, collect_rollouts

PENDULUM_NOVEL = EnvConfig(
    id="Pendulum-v1", num_envs=3, max_episode_steps=20, wrappers=[{"mask_velocity": {}}]
)


@pytest.fixture(scope="module")
def pendulum_data() -> EpisodeDataset:
    return collect_rollouts(PENDULUM_NOVEL, num_episodes=7, exploration="mixed", seed=3)


def test_episodes_are_stored_whole_with_done_flags(pendulum_data):
    d = pendulum_data
    assert d.num_episodes == 7 and len(d) == 7 * 20
    assert d.obs.shape == (140, 2) and d.act.shape == (140, 1) and d.next_obs.shape == (140, 2)
    for a, b in d.episode_bounds:
        assert b - a == 20
        assert d.truncated[b - 1] and not d.truncated[a : b - 1].any()
        assert not d.terminated.any()  # Pendulum never terminates
        # consecutive transitions chain: next_obs[t] is obs[t+1] inside an episode
        np.testing.assert_array_equal(d.next_obs[a : b - 1], d.obs[a + 1 : b])
        obs, act = d.episode(d.episode_bounds.index((a, b)))
        assert obs.shape == (21, 2) and act.shape == (20, 1)
    # the terminal observation comes from info["final_obs"], not from the next episode's reset
    for (_, b), (c, _) in zip(d.episode_bounds, d.episode_bounds[1:]):
        assert not np.allclose(d.next_obs[b - 1], d.obs[c])
    # cos^2 + sin^2 == 1: the velocity-masked observation is what was stored
    np.testing.assert_allclose((d.obs**2).sum(-1), 1.0, atol=1e-5)
    assert np.all(np.abs(d.act) <= 2.0)


def test_split_by_episode_and_npz_roundtrip(pendulum_data, tmp_path):
    train, held = pendulum_data.split(2, seed=0)
    assert train.num_episodes == 5 and held.num_episodes == 2
    train_rows = {tuple(r) for r in train.obs.round(6)}
    assert not any(tuple(r) in train_rows for r in held.obs.round(6))
    path = held.save(tmp_path / "held.npz")
    back = EpisodeDataset.load(path)
    np.testing.assert_array_equal(back.obs, held.obs)
    np.testing.assert_array_equal(back.episode_start, held.episode_start)
    with pytest.raises(ConfigError, match="no such dataset"):
        EpisodeDataset.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("name", ["random", "pink", "ou", "scripted", "mixed"])
def test_exploration_policies_stay_in_bounds(name):
    low, high = np.array([-2.0]), np.array([2.0])
    policy = make_exploration(name, "Pendulum-v1", low, high, num_envs=4, seed=0)
    obs = np.tile([[1.0, 0.0]], (4, 1))
    acts = []
    for t in range(300):
        acts.append(policy.act(obs))
        obs = np.stack([np.cos([t * 0.1] * 4), np.sin([t * 0.1] * 4)], -1)
        policy.reset(np.array([t % 50 == 0] * 4))
    acts = np.stack(acts)
    assert acts.shape == (300, 4, 1) and np.all(acts >= -2) and np.all(acts <= 2)
    assert acts.std() > 0.1
    if name in ("pink", "ou"):  # coloured noise is correlated in time, white noise is not
        lag1 = np.corrcoef(acts[1:, 0, 0], acts[:-1, 0, 0])[0, 1]
        assert lag1 > 0.5


def test_scripted_needs_a_known_env():
    with pytest.raises(ConfigError, match="no scripted controller for 'Reacher-v5'"):
        make_exploration("scripted", "Reacher-v5", np.array([-1.0]), np.array([1.0]), 2, 0)


def test_mujoco_env_with_terminations():
    cfg = EnvConfig(id="InvertedPendulum-v5", num_envs=2, max_episode_steps=50)
    d = collect_rollouts(cfg, num_episodes=4, exploration="random", seed=0)
    assert d.num_episodes == 4 and d.obs_dim == 4 and d.act_dim == 1
    ends = d.terminated | d.truncated
    assert ends.sum() == 4 and d.terminated.any()  # random torques drop the pole
    for a, b in d.episode_bounds:
        assert ends[b - 1] and not ends[a : b - 1].any()

