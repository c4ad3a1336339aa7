"""The frame-stack wrapper: the memory of the feed-forward baseline in the learning benchmark."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rnn_control.envs.factory import make_env
from rnn_control.envs.spaces import describe_env
from rnn_control.errors import ConfigError
from rnn_control.scenario import load_scenario

IMU_TERMS = [  # the IMU scenario's observation wrappers, without its privileged observation
    w for w in load_scenario("half_cheetah_imu").to_dict()["env"]["wrappers"] if "privileged_obs" not in w
]


def stacked(frames: int = 4):
    return load_scenario(
        "half_cheetah_imu", {"env": {"wrappers": [*IMU_TERMS, {"frame_stack": {"frames": frames}}]}}
    )


def test_the_observation_is_the_last_frames_oldest_first_and_starts_from_the_first_repeated():
    env = make_env(stacked().env)
    plain = make_env(load_scenario("half_cheetah_imu").env)
    obs, _ = env.reset(seed=1)
    ref, _ = plain.reset(seed=1)
    assert obs.shape == (44,)
    np.testing.assert_array_equal(obs, np.tile(ref, 4))
    history = [ref]
    for k in range(5):
        action = np.full(6, 0.1 * k, dtype=np.float32)
        obs, *_ = env.step(action)
        ref, *_ = plain.step(action)
        history.append(ref)
        expected = ([history[0]] * 4 + history)[-4:]
        np.testing.assert_array_equal(obs, np.concatenate(expected))


def test_the_stacked_vector_declares_no_joint_layout():
    """The joint-space layout names 11 fields; 44 stacked entries are a plain vector (a benchmark
    baseline, not a deployable robot policy)."""
    assert "fields" in describe_env(make_env(load_scenario("half_cheetah_imu").env))
    spaces = describe_env(make_env(stacked().env))
    assert "fields" not in spaces and spaces["observation"]["shape"] == [44]


def test_bad_frame_counts_and_spaces_are_refused():
    with pytest.raises(ConfigError, match="frames: must be >= 1, got 0"):
        stacked(0)
    from rnn_control.envs.wrappers import FrameStack

    with pytest.raises(ValueError, match="frame_stack: needs a flat Box observation"):
        FrameStack(gym.make("FrozenLake-v1"))
