"""Calibrating the dynamics monitor's alarm: the alarm count by hand, the threshold giving the
requested false-alarm rate on fresh nominal data, the fault wrapper, and the bundle carrying it."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_control.train.dynamics.calibrate import alarm_counts, calibrate_threshold, windowed


def test_alarm_counts_and_windows_by_hand():
    np.testing.assert_allclose(windowed(np.array([1.0, 2, 3, 4]), 2), [1.5, 2.5, 3.5])
    assert len(windowed(np.array([1.0]), 2)) == 0
    m = [np.array([0.0, 2, 2, 0, 3, 0]), np.array([5.0, 0])]  # the second starts above
    np.testing.assert_array_equal(alarm_counts(m, np.array([1.0, 2.5, 4.0, 6.0])), [3, 2, 1, 0])


def test_the_threshold_for_a_rate_the_data_can_show_and_one_it_cannot():
    rng = np.random.default_rng(0)
    stats = [windowed(np.abs(rng.normal(size=20000)), 10) for _ in range(4)]
    hours = sum(len(m) for m in stats) * 0.05 / 3600  # 1.1 h at 20 Hz
    c, method, measured = calibrate_threshold(stats, hours, 100.0)
    assert method == "empirical" and measured <= 100.0
    assert alarm_counts(stats, np.array([c * 0.97]))[0] / hours > 100.0  # the lowest such threshold
    c1, method1, _ = calibrate_threshold(stats, hours, 0.1)
    assert method1 == "extrapolated" and c1 > max(m.max() for m in stats) > c


@pytest.fixture(scope="module")
def model_and_data():
    """A small GRU dynamics model of Pendulum (full observation) trained for a few seconds."""
    import torch

    from rnn_control.models.dynamics import RecurrentDynamicsModel
    from rnn_control.scenario import load_scenario
    from rnn_control.train.dynamics.batch_loss import apply_batch
    from rnn_control.train.dynamics.rollouts import collect_rollouts
    from rnn_control.train.dynamics.sequences import SequenceSampler

    torch.manual_seed(0)
    env = load_scenario("pendulum_monitor").env
    data = collect_rollouts(env, 40, "pink", seed=0, noise_scale=0.6)
    train, calib = data.split(16, seed=0)
    model = RecurrentDynamicsModel(
        obs_dim=3, act_dim=1, log_std_min=-6, log_std_max=1, cell="gru", hidden_size=32
    )
    model.fit_normalizers(*(torch.as_tensor(x) for x in (train.obs, train.act, train.next_obs)))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sampler = SequenceSampler(train, 32, 8, 32, seed=0)
    for _ in range(300):
        loss, _ = apply_batch(model, sampler.sample(), "nll")
        opt.zero_grad()
        loss.backward()
        opt.step()
    fresh = collect_rollouts(env, 32, "pink", seed=99, noise_scale=0.6)
    return model, calib, fresh


def test_calibration_gives_the_requested_false_alarm_rate_on_fresh_nominal_data(model_and_data):
    from rnn_control.train.dynamics.calibrate import calibrate_monitor, step_errors

    model, calib, fresh = model_and_data
    target = 300.0  # per hour: resolvable on 16 x 10 s of calibration data (13 alarms)
    monitor = calibrate_monitor(model, calib, 0.05, window=10, false_alarms_per_hour=target)
    assert monitor["method"] == "empirical" and monitor["calibration_alarms_per_hour"] <= target
    stats = [windowed(e[monitor["warmup"] :], 10) for e in step_errors(model, fresh)]
    hours = sum(len(m) for m in stats) * 0.05 / 3600
    rate = alarm_counts(stats, np.array([monitor["threshold"]]))[0] / hours
    assert target / 3 <= rate <= target * 2, rate
    # a lower target, a higher threshold (extrapolated beyond what the data shows)
    strict = calibrate_monitor(model, calib, 0.05, window=10, false_alarms_per_hour=1.0)
    assert strict["method"] == "extrapolated" and strict["threshold"] > monitor["threshold"]
    assert alarm_counts(stats, np.array([strict["threshold"]]))[0] / hours < rate


def test_the_fault_wrapper_strikes_at_its_time_and_stays():
    from rnn_control.envs import make_env
    from rnn_control.scenario import load_scenario

    env = make_env(
        load_scenario(
            "pendulum_fault_gain", {"env": {"wrappers": [{"fault": {"at_time": 1.0, "actuator_gain": 0.5}}]}}
        ).env
    )
    ref = make_env(load_scenario("pendulum_monitor").env)
    env.reset(seed=0)
    ref.reset(seed=0)
    a = np.array([1.5], dtype=np.float32)
    for k in range(30):
        o, _, _, _, info = env.step(a)
        r, *_ = ref.step(a if k < 20 else a * 0.5)
        assert info["fault"] == (k >= 20)
        np.testing.assert_allclose(o, r, atol=1e-6)
    env.reset(seed=1)  # a new episode: still faulty
    assert env.step(a)[4]["fault"]
