"""Behaviour cloning / DAgger from full-state experts to partially observing recurrent students."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_control.errors import ConfigError
from rnn_control.scenario import load_scenario
from rnn_control.train.common.checkpoint import load_checkpoint
from rnn_control.train.policy.bc import train_bc


def test_dagger_aggregates_one_data_set_per_round(tmp_path):
    """The DAgger loop on a tiny budget (seconds): three rounds, each adding the student's relabelled
    rollouts to the data set, one metrics row per round, the round and data sets in the checkpoint."""
    sc = load_scenario(
        "cartpole_novel",
        {
            "policy": {
                "algorithm": "dagger",
                "total_steps": 600,
                "dagger_iterations": 3,
                "bc_epochs": 2,
                "num_envs": 2,
                "eval_episodes": 1,
            },
            "model": {"hidden_size": 16},
        },
    )
    res = train_bc(sc, tmp_path, progress=False, tensorboard=False)
    assert res.steps > 0 and np.isfinite(res.final_eval_return), res
    ckpt = load_checkpoint(res.checkpoint, kind="policy")
    assert ckpt["round"] == 3 and len(ckpt["dataset"]) == 3
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(rows) == 4


@pytest.mark.slow
def test_dagger_learns_cartpole_without_velocities(tmp_path):
    """~20 s, so slow (the loop itself: test_dagger_aggregates_one_data_set_per_round)."""
    sc = load_scenario(
        "cartpole_novel",
        {
            "policy": {
                "algorithm": "dagger",
                "total_steps": 8000,
                "dagger_iterations": 3,
                "bc_epochs": 25,
                "num_envs": 8,
                "eval_episodes": 5,
                "learning_rate": 0.003,
            }
        },
    )
    res = train_bc(sc, tmp_path, progress=False, tensorboard=False)
    assert res.final_eval_return > 300, res  # an untrained policy balances ~10-40 steps
    ckpt = load_checkpoint(res.checkpoint, kind="policy")
    assert ckpt["round"] == 3 and len(ckpt["dataset"]) == 3
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(rows) == 4


def test_bc_on_pendulum_runs_and_resumes(tmp_path):
    over = {
        "policy": {
            "algorithm": "dagger",
            "total_steps": 1600,
            "dagger_iterations": 2,
            "bc_epochs": 2,
            "num_envs": 4,
            "eval_episodes": 2,
        },
        "model": {"hidden_size": 16},
    }
    sc = load_scenario("pendulum_novel", over)
    train_bc(sc, tmp_path, progress=False, tensorboard=False)
    over["policy"]["dagger_iterations"] = 3
    over["policy"]["total_steps"] = 2400
    res = train_bc(
        load_scenario("pendulum_novel", over), tmp_path, resume=True, progress=False, tensorboard=False
    )
    assert load_checkpoint(res.checkpoint)["round"] == 3


def test_unknown_expert_is_a_config_error(tmp_path):
    sc = load_scenario("pendulum_novel", {"policy": {"algorithm": "bc", "expert": "nope"}})
    with pytest.raises(ConfigError, match="unknown expert 'nope'"):
        train_bc(sc, tmp_path, progress=False, tensorboard=False)
