"""Dynamics trainer: exact resume after a kill, refusal of a different config, NaN data, outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnn_control.errors import CheckpointError, TrainingError
from rnn_control.models import build_model
from rnn_control.scenario import load_scenario
from rnn_control.train.common.checkpoint import load_checkpoint
from rnn_control.train.dynamics.rollouts import collect_rollouts
from rnn_control.train.dynamics.trainer import DynamicsTrainer

TINY = {
    "env": {"max_episode_steps": 30, "num_envs": 4},
    "model": {"cell": "gru", "hidden_size": 16},
    "dynamics": {
        "train_episodes": 6, "heldout_episodes": 2, "total_updates": 6, "batch_size": 4,
        "chunk_length": 8, "burn_in": 4, "open_loop_steps": 4, "checkpoint_every": 3,
        "log_every": 1, "eval_horizons": [5, 10], "eval_history": 8,
    },
}  # fmt: skip


def scenario(**dynamics):
    over = {**TINY, "dynamics": {**TINY["dynamics"], **dynamics}}
    return load_scenario("pendulum_novel", over)


@pytest.fixture(scope="module")
def data():
    sc = scenario()
    return collect_rollouts(sc.env, 8, "mixed", seed=0).split(2, seed=0)


def params(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_killed_run_resumes_to_the_same_weights(tmp_path, data):
    full = DynamicsTrainer(scenario(), tmp_path / "full", data=data, progress=False)
    result = full.train()
    assert result.steps == 6 and result.report is not None
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "full" / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/grad_norm", "eval/heldout_loss", "eval/open_loop_nrmse_10"} <= tags
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4, 5, 6]

    killed = DynamicsTrainer(scenario(), tmp_path / "killed", data=data, progress=False)
    killed.train(stop_after=5)  # "killed" after 5 updates; the last checkpoint is at 3
    assert load_checkpoint(tmp_path / "killed" / "checkpoint.pt")["step"] == 3

    resumed = DynamicsTrainer(scenario(), tmp_path / "killed", progress=False)  # data reloaded from the run
    assert resumed.resumed_from == 3
    resumed.train()
    a, b = params(full), params(resumed)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=1e-6, msg=k)
    assert (tmp_path / "killed" / "eval.json").is_file()
    assert any((tmp_path / "killed" / "tb").iterdir())


def test_checkpoint_contract_and_rebuild(tmp_path, data):
    DynamicsTrainer(scenario(), tmp_path, data=data, progress=False, tensorboard=False).train()
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt", kind="dynamics")
    assert ckpt["spaces"]["observation"]["shape"] == [2]
    assert ckpt["spaces"]["action"] == {"type": "box", "shape": [1], "low": [-2.0], "high": [2.0]}
    assert ckpt["control_period"] == pytest.approx(0.05)
    assert ckpt["config"]["model"]["hidden_size"] == 16 and ckpt["step"] == 6
    model = build_model(ckpt)
    nxt, std, state = model.predict_inference(torch.zeros(1, 3), model.initial_state(1))
    assert nxt.shape == (1, 2) and std.shape == (1, 2) and state[0].shape == (1, 1, 16)
    summary = json.loads((tmp_path / "eval.json").read_text())
    assert set(summary["rmse"]) == {"5", "10"}


def test_a_different_model_config_is_refused_with_the_differences(tmp_path, data):
    DynamicsTrainer(scenario(), tmp_path, data=data, progress=False, tensorboard=False).train(stop_after=3)
    other = load_scenario("pendulum_novel", {**TINY, "model": {"cell": "lstm", "hidden_size": 32}})
    with pytest.raises(CheckpointError) as err:
        DynamicsTrainer(other, tmp_path, progress=False)
    msg = str(err.value)
    assert "model.cell: 'gru' != 'lstm'" in msg and "model.hidden_size: 16 != 32" in msg
    # only-run-length changes are fine: more updates continue the run
    longer = DynamicsTrainer(scenario(total_updates=9), tmp_path, progress=False, tensorboard=False)
    assert longer.resumed_from == 3 and longer.train().steps == 9


def test_nan_in_the_data_stops_training_before_the_update(tmp_path, data):
    train, held = data
    bad = train.select(list(range(train.num_episodes)))
    bad.obs[:] = np.nan  # every window is corrupt
    trainer = DynamicsTrainer(scenario(), tmp_path, data=(bad, held), progress=False, tensorboard=False)
    before = params(trainer)
    with pytest.raises(TrainingError, match="update 1: the training batch contains non-finite values"):
        trainer.train()
    after = params(trainer)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_resuming_on_grown_data_keeps_or_refits_the_normalisers(tmp_path, data):
    """The model-based loop resumes its trainer on more data each iteration; with
    ``refit_normalizers`` the statistics are those of all the data now, not merged into the old."""
    from rnn_control.train.dynamics.mbrl import concat

    train, held = data
    first = train.select([0, 1])
    DynamicsTrainer(scenario(), tmp_path, data=(first, held), progress=False, tensorboard=False).train()
    saved = build_model(load_checkpoint(tmp_path / "checkpoint.pt")).obs_norm.mean.clone()
    grown = concat([first, train.select([2, 3, 4, 5])])
    grown.obs = grown.obs * 3.0 + 1.0  # data the first statistics do not describe
    grown.next_obs = grown.next_obs * 3.0 + 1.0
    kept = DynamicsTrainer(scenario(total_updates=9), tmp_path, data=(grown, held), progress=False)
    torch.testing.assert_close(kept.model.obs_norm.mean, saved)
    refit = DynamicsTrainer(
        scenario(total_updates=9), tmp_path, data=(grown, held), progress=False, refit_normalizers=True
    )
    want = torch.as_tensor(grown.obs, dtype=refit.model.obs_norm.mean.dtype).mean(0)
    torch.testing.assert_close(refit.model.obs_norm.mean, want, rtol=1e-5, atol=1e-5)
    assert float(refit.model.obs_norm.count) == len(grown)
    assert refit.update == 6  # resumed, not restarted
