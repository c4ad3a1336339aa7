"""MpcController on a real planning bundle: commands, determinism, and the bad-input cases (bad or
non-finite observations, non-finite predictions, no valid candidate, overruns, K/H out of range,
unknown cost fields)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rnn_control.errors import ConfigError
from rnn_control.runtime.mpc import MpcController
from tests.mpc_support import planning_bundle

CONFIG = {
    "planner": "mppi", "deadline": 0.0, "noise_beta": 1.0,
    "cost": {"terms": [{"kind": "angle", "fields": ["cos_theta", "sin_theta"]},
                       {"kind": "quadratic", "field": "torque", "weight": 0.001}]},
}  # fmt: skip


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return planning_bundle(tmp_path_factory.mktemp("mpc"), batch=32, horizon=8)


def episode(controller, steps=12):
    rng = np.random.default_rng(0)
    out = []
    for _ in range(steps):
        th = rng.uniform(-3, 3)
        out.append(controller.step([np.cos(th), np.sin(th)]))
    return np.array(out)


def test_commands_are_finite_within_limits_and_deterministic(bundle):
    a, b = MpcController.load(bundle, CONFIG), MpcController.load(bundle, CONFIG)
    ca, cb = episode(a), episode(b)
    np.testing.assert_array_equal(ca, cb)
    assert np.isfinite(ca).all() and np.abs(ca).max() <= 2.0
    a.reset()
    np.testing.assert_array_equal(episode(a), ca)  # a reset replays the episode exactly
    assert a.counters["solves"] == 24 and a.counters["faults"] == 0
    p50, p99 = a.solve_percentiles()
    assert 0 < p50 <= p99


def test_the_filter_sees_the_command_actually_sent(bundle):
    a, b = MpcController.load(bundle, CONFIG), MpcController.load(bundle, CONFIG)
    for ctrl in (a, b):
        ctrl.step([1.0, 0.0])
    b.executed(np.array([1.5]))  # e.g. faded in: b's model must filter on 1.5, a's on its own command
    a.step([0.9, 0.1])
    b.step([0.9, 0.1])
    assert not np.array_equal(a.model.filtered_state()[0], b.model.filtered_state()[0])
    assert b.model._pair[0, 2] == pytest.approx(1.5)


def test_bad_observations_give_the_safe_command_and_a_reset(bundle):
    ctrl = MpcController.load(bundle, CONFIG)
    safe = ctrl.safe_command()
    ctrl.step([1.0, 0.0])
    cases = [([1.0], "bad_observation_length"), ([np.nan, 0.0], "non_finite_observation"),
             ([np.inf, 0.0], "non_finite_observation"), ("xx", "bad_observation_length")]  # fmt: skip
    for obs, reason in cases:
        np.testing.assert_array_equal(ctrl.step(obs), safe)
        assert ctrl.last_fault == reason
    assert ctrl.counters["bad_observation_length"] == 2 and ctrl.counters["non_finite_observation"] == 2
    assert ctrl.model._first[0, 0] == 1.0  # state reset: the next tick does not filter


def test_non_finite_predictions_are_discarded_and_none_valid_is_the_safe_command(bundle):
    ctrl = MpcController.load(bundle, CONFIG)
    real = ctrl.model.rollout

    def half_nan():
        out = real()
        out[:, :, 16:] = np.nan
        return out

    ctrl.model.rollout = half_nan
    command = ctrl.step([1.0, 0.0])
    assert np.isfinite(command).all() and ctrl.counters["invalid_candidates"] == 16
    ctrl.model.rollout = lambda: np.full((8, 1, 32, 2), np.nan, dtype=np.float32)
    np.testing.assert_array_equal(ctrl.step([1.0, 0.0]), ctrl.safe_command())
    assert ctrl.counters["no_valid"] == 1 and ctrl.last_fault == "no_valid"


def test_an_overrun_solve_sends_the_shifted_previous_plan_and_is_counted(bundle):
    ctrl = MpcController.load(bundle, CONFIG)
    ctrl.step([1.0, 0.0])
    plan = ctrl.last_result.plan.copy()
    command = ctrl.step([0.9, 0.1], deadline=time.perf_counter() - 1.0)
    assert ctrl.counters["deadline_misses"] == 1 and ctrl.last_result.status == "late"
    np.testing.assert_allclose(command, np.clip(plan[1], -2, 2), atol=1e-6)


def test_samples_or_horizon_that_do_not_fit_the_bundle_are_refused(bundle):
    with pytest.raises(ConfigError, match=r"mpc\.samples: 64 does not fit .* \(batch 32, horizon 8\)"):
        MpcController.load(bundle, {**CONFIG, "samples": 64})
    with pytest.raises(ConfigError, match=r"mpc\.horizon: 30 does not fit"):
        MpcController.load(bundle, {**CONFIG, "horizon": 30})
    with pytest.raises(ConfigError, match=r"samples: must be in 0\.\.65536"):
        MpcController.load(bundle, {**CONFIG, "samples": -1})
    with pytest.raises(ConfigError, match="elites: 40 > the bundle's batch of 32"):
        MpcController.load(bundle, {**CONFIG, "planner": "cem", "elites": 40})


def test_a_cost_on_an_unknown_field_is_refused(bundle):
    bad = {**CONFIG, "cost": {"terms": [{"kind": "quadratic", "field": "theta_dot"}]}}
    with pytest.raises(
        ConfigError, match=r"unknown field 'theta_dot'.*\['cos_theta', 'sin_theta'\].*\['torque'\]"
    ):
        MpcController.load(bundle, bad)


def test_the_bundle_scenario_mpc_section_is_the_default(bundle):
    # pendulum_novel's shipped section asks for 256 x 30: this 32 x 8 bundle does not fit it
    with pytest.raises(ConfigError, match=r"mpc\.samples: 256 does not fit .* --planning 256 30"):
        MpcController.load(bundle)
    ctrl = MpcController.load(bundle, {"samples": 0, "horizon": 0, "cost": CONFIG["cost"]})
    assert ctrl.config.planner == "mppi" and ctrl.config.cost.terms[0].kind == "angle"
