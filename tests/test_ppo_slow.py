"""Full training runs to the task thresholds (minutes): ``pytest -m slow tests/test_ppo_slow.py``."""

from __future__ import annotations

import pytest

from rnn_control.scenario import load_scenario
from rnn_control.train.policy.ppo import train_ppo

pytestmark = pytest.mark.slow


def test_pendulum_novel_reaches_minus_250(tmp_path):
    res = train_ppo(load_scenario("pendulum_novel"), tmp_path, progress=False, tensorboard=False)
    assert res.first_target is not None, res
    assert res.final_eval_return > -300, res


def test_cartpole_novel_reaches_475(tmp_path):
    sc = load_scenario("cartpole_novel", {"policy": {"stop_at_target": True}})
    res = train_ppo(sc, tmp_path, progress=False, tensorboard=False)
    assert res.first_target is not None and res.final_eval_return >= 475, res


def test_recurrent_beats_mlp_on_masked_inverted_pendulum(tmp_path):
    rec = train_ppo(
        load_scenario("inverted_pendulum_novel"), tmp_path / "rec", progress=False, tensorboard=False
    )
    mlp_sc = load_scenario("inverted_pendulum_novel", {"policy": {"architecture": "mlp"}})
    mlp = train_ppo(mlp_sc, tmp_path / "mlp", progress=False, tensorboard=False)
    assert rec.final_eval_return > 1.5 * mlp.final_eval_return, (rec, mlp)
