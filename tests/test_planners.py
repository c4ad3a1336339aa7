"""Planners (MPPI, CEM/iCEM) on a toy rollout model: determinism, warm start, deadline, bounds,
non-finite candidates, elites; coloured noise."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rnn_control.config import from_dict
from rnn_control.runtime.planners import LATE, NO_VALID, OK, TRUNCATED, Cost, colored_noise, make_planner
from rnn_control.scenario.mpc import MpcConfig


class DoubleIntegrator:
    """x'' = u, observed (x, v); records the candidates of every rollout."""

    def __init__(self, horizon: int = 12, batch: int = 64, dt: float = 0.1, sleep: float = 0.0) -> None:
        self.horizon, self.batch, self.members, self.obs_dim, self.act_dim = horizon, batch, 1, 2, 1
        self.actions = np.zeros((horizon, batch, 1), dtype=np.float32)
        self.state, self.dt, self.sleep = np.zeros(2), dt, sleep
        self.seen: list[np.ndarray] = []
        self.nan_rows: slice | None = None

    def rollout(self) -> np.ndarray:
        self.seen.append(self.actions.copy())
        if self.sleep:
            time.sleep(self.sleep)
        x = np.full(self.batch, self.state[0])
        v = np.full(self.batch, self.state[1])
        out = np.zeros((self.horizon, 1, self.batch, 2), dtype=np.float32)
        for t in range(self.horizon):
            v = v + self.actions[t, :, 0] * self.dt
            x = x + v * self.dt
            out[t, 0, :, 0], out[t, 0, :, 1] = x, v
        if self.nan_rows is not None:
            out[:, :, self.nan_rows] = np.nan
        return out


def planner_for(model, planner="mppi", **cfg):
    config = from_dict(MpcConfig, {"planner": planner, "noise_std": 0.5, "elites": 8, **cfg}, "mpc")
    cost_cfg = {
        "terms": [
            {"kind": "quadratic", "field": "x", "target": 1.0},
            {"kind": "quadratic", "field": "u", "weight": 0.01},
        ]
    }
    config.cost = from_dict(type(config.cost), cost_cfg, "cost")
    cost = Cost(config.cost, ["x", "v"], ["u"], model.dt)
    return make_planner(model, cost, config, np.array([-1.0]), np.array([1.0]))


def run(planner, model, ticks=15):
    actions = []
    prev = np.zeros(1)
    for _ in range(ticks):
        result = planner.solve(np.array(model.state, dtype=np.float32), prev)
        a = result.action
        actions.append(a.copy())
        model.state = np.array([model.state[0] + (model.state[1] + a[0] * model.dt) * model.dt,
                                model.state[1] + a[0] * model.dt])  # fmt: skip
        prev = a
    return np.array(actions)


@pytest.mark.parametrize("kind", ["mppi", "cem"])
def test_deterministic_for_a_seed_and_reset_replays(kind):
    a_model = DoubleIntegrator()
    a = run(planner_for(a_model, kind, seed=3, iterations=2), a_model)
    b_model = DoubleIntegrator()
    b = planner_for(b_model, kind, seed=3, iterations=2)
    np.testing.assert_array_equal(run(b, b_model), a)
    b.reset()
    b_model.state = np.zeros(2)
    np.testing.assert_array_equal(run(b, b_model), a)  # reset re-seeds: the same episode again
    c_model = DoubleIntegrator()
    c = run(planner_for(c_model, kind, seed=4, iterations=2), c_model)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", ["mppi", "cem"])
def test_it_controls_the_toy_system_within_bounds(kind):
    model = DoubleIntegrator()
    planner = planner_for(model, kind, iterations=3, temperature=0.05, noise_beta=1.0)
    actions = run(planner, model, ticks=40)
    assert abs(model.state[0] - 1.0) < 0.15, model.state
    seen = np.concatenate(model.seen, axis=1)
    assert seen.min() >= -1.0 and seen.max() <= 1.0 and np.abs(actions).max() <= 1.0


def test_mppi_warm_start_is_the_previous_plan_shifted():
    model = DoubleIntegrator()
    planner = planner_for(model, "mppi")
    first = planner.solve(np.zeros(2, np.float32), np.zeros(1))
    planner.solve(np.zeros(2, np.float32), first.action)
    candidate0 = model.seen[-1][:, 0]  # MPPI's candidate 0 is the (warm-started) mean
    np.testing.assert_allclose(candidate0, np.concatenate([first.plan[1:], first.plan[-1:]]), atol=1e-6)
    cold = planner_for(DoubleIntegrator(), "mppi", warm_start=False)
    cold.solve(np.zeros(2, np.float32), np.zeros(1))
    cold.solve(np.zeros(2, np.float32), np.zeros(1))
    np.testing.assert_array_equal(cold.model.seen[-1][:, 0], np.zeros((12, 1)))


def test_cem_keeps_elites_into_the_next_iteration_and_tick():
    model = DoubleIntegrator()
    planner = planner_for(model, "cem", iterations=2, keep_elites=0.5)
    planner.solve(np.zeros(2, np.float32), np.zeros(1))
    kept = planner.kept.copy()  # 4 of the 8 elites of the second iteration
    assert kept.shape == (12, 4, 1)
    planner.solve(np.zeros(2, np.float32), np.zeros(1))
    np.testing.assert_allclose(model.seen[-2][:, :4], np.concatenate([kept[1:], kept[-1:]]), atol=1e-6)


def test_deadline_truncates_iterations_and_an_overrun_uses_the_shifted_previous_plan():
    model = DoubleIntegrator(sleep=0.02)
    planner = planner_for(model, "mppi", iterations=10)
    first = planner.solve(np.zeros(2, np.float32), np.zeros(1))  # no deadline: all 10
    assert first.status == OK and first.iterations == 10
    result = planner.solve(np.zeros(2, np.float32), first.action, deadline=time.perf_counter() + 0.07)
    assert result.status == TRUNCATED and 1 <= result.iterations < 10
    previous = planner.mean.copy()
    late = planner.solve(np.zeros(2, np.float32), result.action, deadline=time.perf_counter() + 0.001)
    assert late.status == LATE and late.iterations == 1
    np.testing.assert_allclose(late.action, np.concatenate([previous[1:], previous[-1:]])[0])


@pytest.mark.parametrize("kind", ["mppi", "cem"])
def test_non_finite_candidates_are_discarded_and_none_valid_gives_no_action(kind):
    model = DoubleIntegrator()
    model.nan_rows = slice(32, 64)
    planner = planner_for(model, kind, iterations=2)
    result = planner.solve(np.zeros(2, np.float32), np.zeros(1))
    assert result.invalid == 64 and np.isfinite(result.cost)
    assert not any(np.isnan(c).any() for c in model.seen)
    model.nan_rows = slice(0, 64)
    result = planner.solve(np.zeros(2, np.float32), np.zeros(1))
    assert result.status == NO_VALID and result.action is None and result.cost == np.inf


def test_colored_noise_unit_variance_more_correlated_with_beta_and_deterministic():
    corr = []
    for beta in (0.0, 1.0, 2.0):
        x = colored_noise(np.random.default_rng(0), beta, (30, 4000, 1))
        assert abs(x.std() - 1.0) < 0.03
        corr.append(float(np.mean(x[1:] * x[:-1])))
        y = colored_noise(np.random.default_rng(0), beta, (30, 4000, 1))
        np.testing.assert_array_equal(x, y)
    assert abs(corr[0]) < 0.03 and corr[0] < corr[1] < corr[2]


def test_noise_table_draws_coloured_unit_variance_windows_deterministically():
    from rnn_control.runtime.planners.noise import NoiseTable

    table = NoiseTable(seed=1, per_draw=32 * 2000)
    for beta, lag in ((0.0, (-0.03, 0.03)), (2.0, (0.85, 0.95))):
        out = np.zeros((30, 2000, 1), np.float32)
        table.draw(np.random.default_rng(5), beta, out)
        again = table.draw(np.random.default_rng(5), beta, np.zeros_like(out))
        np.testing.assert_array_equal(out, again)
        assert abs(out.std() - 1.0) < 0.05 and lag[0] < np.mean(out[1:] * out[:-1]) < lag[1]
