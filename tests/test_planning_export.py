"""The planning export: K candidates x H steps per onnxruntime call, parity-checked against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnn_control.contract.metadata import metadata_from_dict
from rnn_control.errors import BundleError
from rnn_control.export.planning import (
    PlanningExportOptions,
    export_planning,
    members_of,
    reference_tick,
)
from rnn_control.models import build_model
from rnn_control.runtime import Stepper, read_bundle_metadata
from rnn_control.runtime.planning import PlanningModel
from rnn_control.train.common.checkpoint import load_checkpoint
from tests.mpc_support import dynamics_checkpoint


@pytest.mark.parametrize(
    "cell,layers,head,graph",
    [
        ("gru", 1, None, "unrolled"),
        ("gru", 2, [16], "loop"),
        ("lstm", 1, None, "unrolled"),
        ("rnn", 2, None, "loop"),
    ],
)
def test_planning_bundle_matches_pytorch_tick_by_tick(tmp_path, cell, layers, head, graph):
    ckpt = dynamics_checkpoint(tmp_path, cell=cell, layers=layers, head_hidden=head)
    out = tmp_path / "plan.onnx"
    meta = export_planning(ckpt, out, PlanningExportOptions(batch=32, horizon=7, graph=graph, parity_ticks=6))
    figures = meta.parity["torch_vs_onnxruntime"]
    assert figures["max_abs_diff_plan"] < 1e-5 and figures["max_abs_diff_state"] < 1e-5
    stored = read_bundle_metadata(out)
    assert stored.planning.batch == 32 and stored.planning.horizon == 7 and stored.planning.graph == graph
    assert [c.name for c in stored.planning.commands] == ["torque"]
    # replay independently: filter on a pair, then roll out; compare with PyTorch
    members = members_of(build_model(load_checkpoint(ckpt)).float())
    model = PlanningModel.load(out)
    rng = np.random.default_rng(1)
    state = [m.initial_state(1) for m in members]
    pair = None
    for _ in range(3):
        obs = rng.normal(size=2).astype(np.float32)
        acts = rng.uniform(-2, 2, size=(7, 32, 1)).astype(np.float32)
        state, _, want = reference_tick(members, state, pair, obs, acts)
        model.begin(obs)
        model.actions[:] = acts
        np.testing.assert_allclose(model.rollout(), want, atol=1e-5)
        cmd = rng.uniform(-2, 2, size=1).astype(np.float32)
        model.commit(cmd)
        pair = np.concatenate([obs, cmd])


def test_imagined_states_are_discarded_and_repeated_rollouts_agree(tmp_path):
    ckpt = dynamics_checkpoint(tmp_path)
    out = tmp_path / "plan.onnx"
    export_planning(ckpt, out, PlanningExportOptions(batch=8, horizon=5, parity_ticks=2))
    model = PlanningModel.load(out)
    model.begin([1.0, 0.0])
    model.actions[:] = 1.0
    first = model.rollout().copy()
    model.actions[:] = -1.0
    model.rollout()
    model.actions[:] = 1.0
    np.testing.assert_array_equal(model.rollout(), first)  # no state leaked from the other rollout
    assert all(np.array_equal(s, np.zeros_like(s)) for s in model.filtered_state())  # first tick: no filter
    model.commit([0.5])
    model.begin([0.9, 0.1])
    model.rollout()
    assert any(np.abs(s).max() > 0 for s in model.filtered_state())  # filtered on the real pair


def test_planning_bundle_is_not_a_stepper_bundle_and_vice_versa(tmp_path):
    from rnn_control.export.exporter import ExportOptions, export_checkpoint

    ckpt = dynamics_checkpoint(tmp_path)
    plan, plain = tmp_path / "plan.onnx", tmp_path / "plain.onnx"
    export_planning(ckpt, plan, PlanningExportOptions(batch=8, horizon=5, parity_ticks=2))
    export_checkpoint(ckpt, plain, ExportOptions(parity_steps=20, simplify=False))
    with pytest.raises(BundleError, match="do not follow the convention"):
        Stepper.load(plan)
    with pytest.raises(BundleError, match="not a planning bundle"):
        PlanningModel.load(plain)
    assert read_bundle_metadata(plain).planning is None  # old layout unchanged


def test_a_wrong_graph_fails_parity_and_writes_nothing(tmp_path, monkeypatch):
    import rnn_control.export.planning as planning

    ckpt = dynamics_checkpoint(tmp_path)
    real = planning.member_weights

    def broken(model, where="x"):
        w = real(model, where)
        w.layers[0][1][:] *= 1.5  # the recurrent weights, off by half
        return w

    monkeypatch.setattr(planning, "member_weights", broken)
    out = tmp_path / "plan.onnx"
    with pytest.raises(BundleError, match="parity check FAILED"):
        export_planning(ckpt, out, PlanningExportOptions(batch=8, horizon=5, parity_ticks=4))
    assert not out.exists()


@pytest.mark.parametrize("batch,horizon", [(0, 10), (8, 0), (10**6, 10)])
def test_batch_or_horizon_out_of_range_is_refused(tmp_path, batch, horizon):
    ckpt = dynamics_checkpoint(tmp_path)
    with pytest.raises(BundleError, match=r"batch must be in 1\.\.65536 and horizon in 1\.\.1000"):
        export_planning(ckpt, tmp_path / "p.onnx", PlanningExportOptions(batch=batch, horizon=horizon))


def test_time_aware_cells_cannot_plan(tmp_path):
    from rnn_control.errors import CheckpointError

    ckpt = dynamics_checkpoint(tmp_path, cell="tgru")
    with pytest.raises((CheckpointError, BundleError), match=r"time-aware|tgru"):
        export_planning(ckpt, tmp_path / "p.onnx", PlanningExportOptions(batch=8, horizon=5))


def test_planning_metadata_is_validated():
    base = {
        "schema_version": 2, "kind": "dynamics", "cell": "gru", "num_layers": 1, "hidden_size": 4,
        "observation": [{"name": "x", "source": "vector/0"}, {"name": "cmd_u", "source": "last_action/0"}],
        "action": [{"name": "next_x", "target": "vector/0", "low": -1e9, "high": 1e9}],
        "control_period": 0.05,
    }  # fmt: skip
    command = {"name": "u", "target": "vector/0", "low": -1.0, "high": 1.0}
    metadata_from_dict({**base, "planning": {"batch": 4, "horizon": 3, "commands": [command]}})
    with pytest.raises(BundleError, match="batch: must be >= 1"):
        metadata_from_dict({**base, "planning": {"batch": 0, "horizon": 3, "commands": [command]}})
    with pytest.raises(BundleError, match="2 commands"):
        metadata_from_dict({**base, "planning": {"batch": 4, "horizon": 3, "commands": [command, command]}})
    with pytest.raises(BundleError, match="planning command 'u'"):
        bad = {**command, "target": "nowhere/0"}
        metadata_from_dict({**base, "planning": {"batch": 4, "horizon": 3, "commands": [bad]}})
    torch.manual_seed(0)  # (keeps the module's tests independent of order)


@pytest.mark.parametrize(
    "cell,members,graph,shards",
    [("gru", 1, "unrolled", 2), ("lstm", 1, "loop", 3), ("gru", 3, "unrolled", 4)],
)
def test_sharded_rollouts_equal_the_single_call(tmp_path, cell, members, graph, shards):
    """Splitting the candidates over concurrent calls changes nothing: the same predictions, the
    same filtered state and filter prediction, tick after tick (uneven slices included)."""
    ckpt = dynamics_checkpoint(tmp_path, cell=cell, members=members)
    out = tmp_path / "plan.onnx"
    export_planning(ckpt, out, PlanningExportOptions(batch=30, horizon=6, graph=graph, parity_ticks=2))
    one, split = PlanningModel.load(out), PlanningModel.load(out, shards=shards)
    assert split.shards == shards and "shard" in repr(split)
    rng = np.random.default_rng(3)
    for tick in range(4):
        obs = rng.normal(size=2).astype(np.float32)
        acts = rng.uniform(-2, 2, size=(6, 30, 1)).astype(np.float32)
        for model in (one, split):
            model.begin(obs)
            model.actions[:] = acts
        want = one.rollout().copy()
        got = split.rollout()
        assert got.shape == (6, members, 30, 2)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"tick {tick}")
        for a, b in zip(split.filtered_state(), one.filtered_state()):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(split.filter_prediction(), one.filter_prediction(), atol=1e-6)
        cmd = rng.uniform(-2, 2, size=1)
        one.commit(cmd)
        split.commit(cmd)
    assert split.rollouts == one.rollouts == 4


def test_shards_out_of_range_or_on_a_fixed_batch_graph_are_refused(tmp_path):
    import onnx

    ckpt = dynamics_checkpoint(tmp_path)
    out = tmp_path / "plan.onnx"
    export_planning(ckpt, out, PlanningExportOptions(batch=8, horizon=4, parity_ticks=1))
    for bad in (0, 9):
        with pytest.raises(BundleError, match=r"shards must be in 1\.\.8"):
            PlanningModel.load(out, shards=bad)
    # a bundle from before the candidate axis was symbolic: fixed at its batch
    model = onnx.load(str(out))
    for value in [*model.graph.input, *model.graph.output]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param == "candidates":
                dim.dim_value = 8
    fixed = tmp_path / "fixed.onnx"
    onnx.save(model, str(fixed))
    assert PlanningModel.load(fixed).shards == 1  # still loads whole
    with pytest.raises(BundleError, match="fixed candidate axis"):
        PlanningModel.load(fixed, shards=2)
