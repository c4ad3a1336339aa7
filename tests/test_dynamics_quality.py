"""Slow: a short real training run, recurrent vs window-MLP open-loop error (see BENCHMARKS.md)."""

from __future__ import annotations

import pytest

from rnn_control.scenario import load_scenario
from rnn_control.train.dynamics.rollouts import collect_rollouts
from rnn_control.train.dynamics.trainer import DynamicsTrainer


@pytest.mark.slow
def test_gru_beats_the_window_mlp_over_50_open_loop_steps(tmp_path):
    """1500 updates each on the same pink-noise data of velocity-masked Pendulum-v1."""
    over = {
        "dynamics": {
            "exploration": "pink",
            "total_updates": 1500,
            "train_episodes": 96,
            "heldout_episodes": 16,
        }
    }
    base = load_scenario("pendulum_novel", over)
    d = base.dynamics
    data = collect_rollouts(base.env, d.train_episodes + d.heldout_episodes, "pink", seed=0).split(16, seed=0)
    errors = {}
    for name, extra in (("gru", {}), ("mlp", {"model_type": "window_mlp"})):
        sc = load_scenario("pendulum_novel", {"dynamics": {**over["dynamics"], **extra}})
        result = DynamicsTrainer(sc, tmp_path / name, data=data, progress=False, tensorboard=False).train()
        errors[name] = result.report.rmse
    assert errors["gru"][10] < 0.2 and errors["gru"][50] < 0.6  # a useful model
    assert errors["gru"][50] < 0.9 * errors["mlp"][50]
    assert errors["gru"][100] < 0.9 * errors["mlp"][100]
