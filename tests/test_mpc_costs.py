"""MPC costs from the scenario's ``mpc.cost``: every term kind against a hand computation, the
Pendulum reward reproduced exactly on real trajectories, custom functions, bad fields."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rnn_control.config import from_dict
from rnn_control.errors import ConfigError
from rnn_control.runtime.planners import Cost, wrap
from rnn_control.scenario import load_scenario
from rnn_control.scenario.mpc import CostConfig, MpcConfig

OBS, ACT = ["x", "y", "c", "s"], ["u", "w"]


def cost_of(terms: list[dict], **extra) -> Cost:
    return Cost(from_dict(CostConfig, {"terms": terms, **extra}), OBS, ACT, dt=0.1)


@pytest.fixture
def traj():
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(4, 3, 4))  # H=4, M=3
    obs[..., 2:] = np.stack([np.cos(obs[..., 0] * 3), np.sin(obs[..., 0] * 3)], -1)
    acts = rng.normal(size=(4, 3, 2))
    return obs, acts, rng.normal(size=4), rng.normal(size=2)


def test_each_term_kind_matches_a_hand_computation(traj):
    obs, acts, obs0, prev = traj
    x, u = obs[..., 0], acts[..., 0]
    theta = np.arctan2(obs[..., 3], obs[..., 2])
    theta0 = np.arctan2(obs0[3], obs0[2])
    cases = [
        ({"kind": "quadratic", "field": "x", "target": 0.5, "weight": 2.0}, (2 * (x - 0.5) ** 2).sum(0)),
        ({"kind": "quadratic", "field": "u", "weight": 3.0}, (3 * u**2).sum(0)),
        ({"kind": "angle", "fields": ["c", "s"], "target": 0.3}, (wrap(theta - 0.3) ** 2).sum(0)),
        ({"kind": "angle", "field": "x", "target": np.pi}, (wrap(x - np.pi) ** 2).sum(0)),
        (
            {"kind": "rate", "fields": ["c", "s"], "weight": 0.5},
            (0.5 * (wrap(np.diff(np.concatenate([np.full((1, 3), theta0), theta]), axis=0)) / 0.1) ** 2).sum(
                0
            ),
        ),
        (
            {"kind": "rate", "field": "u"},
            ((np.diff(np.concatenate([np.full((1, 3), prev[0]), u]), axis=0) / 0.1) ** 2).sum(0),
        ),
        (
            {"kind": "barrier", "field": "y", "low": -0.5, "high": 0.2, "weight": 4.0},
            (4 * (np.maximum(-0.5 - obs[..., 1], 0) ** 2 + np.maximum(obs[..., 1] - 0.2, 0) ** 2)).sum(0),
        ),
        ({"kind": "linear", "field": "y", "weight": -1.0, "target": 1.0}, (-(obs[..., 1] - 1.0)).sum(0)),
        (
            {"kind": "distance", "fields": ["x", "y"], "target": 0.1},
            np.sqrt((obs[..., 0] - 0.1) ** 2 + (obs[..., 1] - 0.1) ** 2).sum(0),
        ),
    ]
    for term, want in cases:
        np.testing.assert_allclose(
            cost_of([term])(obs, acts, obs0, prev), want, rtol=1e-10, err_msg=str(term)
        )


def test_terminal_weight_and_discount(traj):
    obs, acts, obs0, prev = traj
    x, u = obs[..., 0], acts[..., 0]
    c = cost_of(
        [{"kind": "quadratic", "field": "x"}, {"kind": "quadratic", "field": "u"}],
        terminal_weight=10.0,
        discount=0.9,
    )
    disc = 0.9 ** np.arange(4)[:, None]
    term = np.array([1, 1, 1, 10.0])[:, None]
    np.testing.assert_allclose(c(obs, acts, obs0, prev), (x**2 * disc * term).sum(0) + (u**2 * disc).sum(0))


def test_non_finite_predictions_cost_inf(traj):
    obs, acts, obs0, prev = traj
    obs = obs.copy()
    obs[2, 1, 3] = np.nan
    obs[0, 2, 2] = np.inf  # an inf would give a finite atan2: caught on the prediction itself
    costs = cost_of([{"kind": "angle", "fields": ["c", "s"]}])(obs, acts, obs0, prev)
    assert np.isfinite(costs[0]) and costs[1] == np.inf and costs[2] == np.inf


def test_unknown_field_is_named_with_the_choices():
    with pytest.raises(
        ConfigError, match=r"unknown field 'theta'.*observation fields \['x', 'y', 'c', 's'\]"
    ):
        cost_of([{"kind": "quadratic", "field": "theta"}])
    with pytest.raises(ConfigError, match="mix observations and commands"):
        cost_of([{"kind": "distance", "fields": ["x", "u"]}])
    with pytest.raises(ConfigError, match=r"exactly one of 'field'"):
        cost_of([{"kind": "quadratic", "field": "x", "fields": ["y"]}])
    with pytest.raises(ConfigError, match="no terms and no function"):
        Cost(CostConfig(), OBS, ACT, 0.1)


def custom_cost(obs, actions, ctx):
    """A custom cost for the test: distance of x from the current observation's y."""
    return np.abs(obs[..., ctx.column("x")] - ctx.obs0[ctx.column("y")]).sum(0)


def bad_shape_cost(obs, actions, ctx):
    return np.zeros(7)


def test_custom_function_is_added_to_the_terms(traj):
    obs, acts, obs0, prev = traj
    c = cost_of([{"kind": "quadratic", "field": "u"}], function="tests.test_mpc_costs:custom_cost")
    want = (acts[..., 0] ** 2).sum(0) + np.abs(obs[..., 0] - obs0[1]).sum(0)
    np.testing.assert_allclose(c(obs, acts, obs0, prev), want)
    with pytest.raises(ConfigError, match="has no function 'nope'"):
        cost_of([], function="tests.test_mpc_costs:nope")
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module_x'"):
        cost_of([], function="no_such_module_x:f")
    with pytest.raises(ConfigError, match=r"returned shape \[7\], expected \[3\]"):
        cost_of([], function="tests.test_mpc_costs:bad_shape_cost")(obs, acts, obs0, prev)


def test_the_shipped_pendulum_cost_is_the_env_reward_on_real_trajectories():
    """Sum of the planner's cost over a real trajectory = -sum of Pendulum-v1's rewards, up to the
    one-step shift (the cost scores the states after each action, the reward those before)."""
    sc = load_scenario("pendulum_novel")
    cost = Cost(sc.mpc.cost, ["cos_theta", "sin_theta"], ["torque"], dt=0.05)
    env = gym.make("Pendulum-v1")
    rng = np.random.default_rng(3)
    for episode in range(5):
        env.reset(seed=episode)
        th0, thdot0 = env.unwrapped.state
        obs0 = np.array([np.cos(th0), np.sin(th0)])
        obs, acts, rewards = [], [], []
        for _ in range(40):
            a = rng.uniform(-2, 2, size=1)
            o, r, *_ = env.step(a.astype(np.float32))
            obs.append(o[:2])
            acts.append(a)
            rewards.append(r)
        th, thdot = env.unwrapped.state

        def c(theta, theta_dot):
            return wrap(np.array(theta)) ** 2 + 0.1 * theta_dot**2

        got = cost(np.array(obs)[:, None], np.array(acts, dtype=np.float64)[:, None], obs0, np.zeros(1))[0]
        want = -np.sum(rewards) + c(th, thdot) - c(th0, thdot0)
        assert got == pytest.approx(want, rel=1e-5)


def test_mpc_section_validation():
    with pytest.raises(ConfigError, match=r"samples: must be in 0\.\.65536"):
        from_dict(MpcConfig, {"samples": 10**6}, "mpc")
    with pytest.raises(ConfigError, match="unknown key 'temprature'"):
        from_dict(MpcConfig, {"temprature": 1.0}, "mpc")
    with pytest.raises(ConfigError, match=r"\[cos_field, sin_field\]"):
        from_dict(MpcConfig, {"cost": {"terms": [{"kind": "angle", "fields": ["a", "b", "c"]}]}}, "mpc")
    with pytest.raises(ConfigError, match="barrier: set low and/or high"):
        from_dict(MpcConfig, {"cost": {"terms": [{"kind": "barrier", "field": "a"}]}}, "mpc")


@pytest.mark.parametrize("name", ["pendulum_novel", "inverted_pendulum_novel"])
def test_shipped_mpc_sections_compile_against_their_scenarios_layout(name):
    from rnn_control.contract.layout import bundle_layout
    from rnn_control.envs import describe_env, make_env

    sc = load_scenario(name)
    assert sc.mpc.cost.terms, f"{name} ships no mpc cost"
    env = make_env(sc.env)
    spaces = describe_env(env)
    env.close()
    observation, action = bundle_layout(sc.io, spaces["observation"]["shape"][0], spaces["action"])
    Cost(sc.mpc.cost, [f.name for f in observation], [f.name for f in action], dt=0.05)
