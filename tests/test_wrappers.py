"""Sim-to-real wrappers on real Gymnasium / MuJoCo envs, and the registered scenario ids."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rnn_control.envs import make_env, register_scenario_envs
from rnn_control.envs.gym_ids import NAMESPACE, SCENARIO_IDS
from rnn_control.envs.timing import control_period
from rnn_control.errors import ConfigError
from rnn_control.scenario import EnvConfig, load_scenario


def env_with(env_id: str, *wrappers: dict) -> gym.Env:
    return make_env(EnvConfig(id=env_id, wrappers=list(wrappers)))


def test_obs_noise_statistics_bounds_and_seeding():
    env = env_with("Pendulum-v1", {"obs_noise": {"std": 0.1}})
    assert np.isinf(env.observation_space.low).all()
    base = gym.make("Pendulum-v1")
    diffs = []
    o, _ = env.reset(seed=3)
    b, _ = base.reset(seed=3)
    diffs.append(o - b)
    for _ in range(300):
        a = np.array([0.5], dtype=np.float32)
        o, *_ = env.step(a)
        b, *_ = base.step(a)
        diffs.append(o - b)
    diffs = np.asarray(diffs)
    assert 0.08 < diffs.std() < 0.12 and abs(diffs.mean()) < 0.02
    o1, _ = env.reset(seed=7)
    o2, _ = env.reset(seed=7)
    assert np.array_equal(o1, o2)


def test_latency_delays_actions_and_observations():
    k_act, k_obs = 2, 1
    env = env_with("Pendulum-v1", {"latency": {"action_delay": k_act, "obs_delay": k_obs}})
    base = gym.make("Pendulum-v1")
    o, _ = env.reset(seed=0)
    b, _ = base.reset(seed=0)
    assert np.array_equal(o, b)
    actions = [np.array([a], dtype=np.float32) for a in np.linspace(-2, 2, 12)]
    applied = [np.zeros(1, dtype=np.float32)] * k_act + actions
    raw = [b]
    seen = [o]
    for t, a in enumerate(actions):
        o, *_ = env.step(a)
        b, *_ = base.step(applied[t])
        raw.append(b)
        seen.append(o)
    for t in range(len(seen)):
        assert np.allclose(seen[t], raw[max(0, t - k_obs)])


def test_dt_jitter_reports_the_dt_the_simulator_integrated():
    env = env_with("Pendulum-v1", {"dt_jitter": {"jitter": 0.4}})
    _, info = env.reset(seed=1)
    assert info["dt"] == pytest.approx(0.05)
    dts = []
    for _ in range(50):
        th0 = env.unwrapped.state[0]
        _, _, _, _, info = env.step(np.array([1.0], dtype=np.float32))
        th1, thdot1 = env.unwrapped.state
        # Pendulum integrates th <- th + thdot_new * dt: the reported dt is the one used.
        assert th1 - th0 == pytest.approx(thdot1 * info["dt"], abs=1e-5)
        dts.append(info["dt"])
    assert 0.03 <= min(dts) < max(dts) <= 0.07 and np.std(dts) > 0.005
    assert control_period(env) == pytest.approx(0.05)


def test_dt_jitter_mujoco_changes_the_timestep():
    env = env_with("InvertedPendulum-v5", {"dt_jitter": {"jitter": 0.3}})
    env.reset(seed=0)
    nominal = 0.04
    for _ in range(10):
        t0 = env.unwrapped.data.time
        _, _, _, _, info = env.step(np.zeros(1, dtype=np.float32))
        assert env.unwrapped.data.time - t0 == pytest.approx(info["dt"], rel=1e-6)
        assert 0.7 * nominal - 1e-9 <= info["dt"] <= 1.3 * nominal + 1e-9


def test_action_repeat_equals_stepping_the_base_env():
    env = env_with("Pendulum-v1", {"action_repeat": {"repeat": 3}})
    base = gym.make("Pendulum-v1")
    env.reset(seed=0)
    base.reset(seed=0)
    a = np.array([1.5], dtype=np.float32)
    o, r, *_ = env.step(a)
    total = 0.0
    for _ in range(3):
        b, rb, *_ = base.step(a)
        total += rb
    assert np.allclose(o, b) and r == pytest.approx(total)
    assert control_period(env) == pytest.approx(0.15)


def test_domain_randomization_draws_parameters_per_episode():
    env = env_with(
        "InvertedPendulum-v5",
        {"domain_randomization": {"mass": [0.5, 1.5], "damping": [0.5, 2.0], "actuator_gain": [0.8, 1.2]}},
    )
    model = env.unwrapped.model
    nominal_mass = env.get_wrapper_attr("nominal")["mass"].copy()
    _, info1 = env.reset(seed=0)
    m1 = model.body_mass.copy()
    _, info2 = env.reset(seed=1)
    m2 = model.body_mass.copy()
    _, info3 = env.reset(seed=0)
    assert not np.allclose(m1, m2)
    assert np.allclose(m1, model.body_mass) and info1["physics"] == info3["physics"]
    ratio = m2[nominal_mass > 0] / nominal_mass[nominal_mass > 0]
    assert ((ratio >= 0.5) & (ratio <= 1.5)).all()
    assert all(0.8 <= g <= 1.2 for g in info2["physics"]["actuator_gain"])


def test_domain_randomization_refuses_non_mujoco_envs():
    with pytest.raises(ValueError, match="not a MuJoCo env"):
        env_with("Pendulum-v1", {"domain_randomization": {"mass": [0.9, 1.1]}})


def test_bad_wrapper_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="jitter"):
        load_scenario("pendulum_novel", {"env": {"wrappers": [{"dt_jitter": {"jitter": 1.5}}]}})
    with pytest.raises(ConfigError, match="unknown key 'delay'"):
        load_scenario("pendulum_novel", {"env": {"wrappers": [{"latency": {"delay": 1}}]}})


@pytest.mark.parametrize("env_id", sorted(SCENARIO_IDS))
def test_registered_scenarios_pass_check_env(env_id):
    register_scenario_envs()
    env = gym.make(f"{NAMESPACE}/{env_id}")
    check_env(env.unwrapped, skip_render_check=True)  # the scenario's whole wrapper stack
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    again = gym.make(env.spec)  # recreatable from its spec, same spaces
    assert again.observation_space == env.observation_space
    again.close()
    env.close()
