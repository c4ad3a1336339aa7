"""The ensemble of recurrent dynamics models: one batched pass equals the members one by one, it
trains through the dynamics trainer, exports as a planning bundle, and planning uses every member."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnn_control.export.planning import PlanningExportOptions, export_planning
from rnn_control.models import EnsembleDynamicsModel
from rnn_control.runtime.mpc import MpcController
from rnn_control.scenario import load_scenario
from rnn_control.train.dynamics.trainer import DynamicsTrainer
from tests.mpc_support import dynamics_checkpoint


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_the_batched_pass_equals_each_member_on_its_rows(cell):
    torch.manual_seed(0)
    model = EnsembleDynamicsModel(2, 1, members=3, cell=cell, hidden_size=8, num_layers=2, head_hidden=[5])
    obs, act = torch.randn(6, 12, 2), torch.randn(6, 12, 1)
    starts = torch.zeros(6, 12, dtype=torch.bool)
    starts[3, 5] = True  # a reset inside member 1's rows
    mean, log_std, state = model(obs, act, None, starts)
    for e, member in enumerate(model.member_models()):
        rows = slice(4 * e, 4 * e + 4)
        m, s, st = member(obs[:, rows], act[:, rows], None, starts[:, rows])
        torch.testing.assert_close(m, mean[:, rows], atol=1e-6, rtol=0)
        torch.testing.assert_close(s, log_std[:, rows], atol=1e-6, rtol=0)
        torch.testing.assert_close(st[0], state[0][:, rows], atol=1e-6, rtol=0)
    assert not torch.allclose(mean[:, :4], mean[:, 4:8])  # members differ
    with pytest.raises(ValueError, match="multiple of 3"):
        model(obs[:, :4], act[:, :4])


def test_rollout_is_the_members_mean_on_every_sequence():
    torch.manual_seed(1)
    model = EnsembleDynamicsModel(2, 1, members=2, hidden_size=8)
    hist_obs, hist_act, plan = torch.randn(4, 3, 2), torch.randn(3, 3, 1), torch.randn(5, 3, 1)
    mean, std = model.rollout(hist_obs, hist_act, plan)
    singles = [m.rollout(hist_obs, hist_act, plan) for m in model.member_models()]
    torch.testing.assert_close(mean, (singles[0][0] + singles[1][0]) / 2, atol=1e-6, rtol=0)
    assert mean.shape == (5, 3, 2) and (std > 0).all()


def test_an_ensemble_trains_in_the_dynamics_trainer(tmp_path):
    over = {"dynamics": {"ensemble": 3, "train_episodes": 6, "heldout_episodes": 2, "total_updates": 30,
                         "batch_size": 4, "chunk_length": 16, "burn_in": 4, "checkpoint_every": 15,
                         "eval_horizons": [5], "exploration": "random"},
            "env": {"num_envs": 2}, "model": {"hidden_size": 16}}  # fmt: skip
    trainer = DynamicsTrainer(
        load_scenario("pendulum_novel", over), tmp_path, progress=False, tensorboard=False
    )
    assert trainer.sampler.batch_size == 12 and isinstance(trainer.model, EnsembleDynamicsModel)
    first = trainer.train_step()[0]
    result = trainer.train()
    assert result.final_loss < first and result.report is not None
    meta = export_planning(
        result.checkpoint, tmp_path / "plan.onnx", PlanningExportOptions(batch=8, horizon=4)
    )
    assert meta.planning.members == 3 and meta.parity["torch_vs_onnxruntime"]["max_abs_diff_plan"] < 1e-5


def test_planning_averages_the_members_and_penalises_their_disagreement(tmp_path):
    ckpt = dynamics_checkpoint(tmp_path, members=3)
    bundle = tmp_path / "plan.onnx"
    export_planning(ckpt, bundle, PlanningExportOptions(batch=16, horizon=5, parity_ticks=3))
    terms = [{"kind": "angle", "fields": ["cos_theta", "sin_theta"]}]
    plain = MpcController.load(bundle, {"deadline": 0, "cost": {"terms": terms}})
    cautious = MpcController.load(bundle, {"deadline": 0, "cost": {"terms": terms, "disagreement": 100.0}})
    plain.step([1.0, 0.0])
    cautious.step([1.0, 0.0])
    pred = plain.model.rollout()
    assert pred.shape == (5, 3, 16, 2) and not np.allclose(pred[:, 0], pred[:, 1])
    costs = plain.planner.evaluate(np.array([1.0, 0.0], np.float32), np.zeros(1))
    penalised = cautious.planner.evaluate(np.array([1.0, 0.0], np.float32), np.zeros(1))
    spread = pred.std(axis=1).mean(axis=-1).sum(axis=0)
    np.testing.assert_allclose(penalised - costs, 100.0 * spread, rtol=1e-4)


def test_the_export_command_writes_planning_bundles_and_refuses_a_plain_ensemble_export(tmp_path, capsys):
    from rnn_control.cli import main

    ckpt = dynamics_checkpoint(tmp_path, members=2)
    out = tmp_path / "plan.onnx"
    assert main(["export", str(ckpt), "-o", str(out), "--planning", "16", "5", "--graph", "loop"]) == 0
    assert (
        "planning bundle, gru 1x16, 2 member(s), 16 candidates x 5 steps per call (loop)"
        in capsys.readouterr().out
    )
    assert main(["export", str(ckpt), "-o", str(tmp_path / "plain.onnx")]) == 2
    assert "exports as a planning bundle only" in capsys.readouterr().err
    assert main(["export", str(ckpt), "--planning", "16"]) == 2
