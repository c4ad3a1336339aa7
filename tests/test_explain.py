"""explain: gate recomputation, attribution of actions to past inputs, plots and the CLI.

Stand-in policies follow the inference contract (``act_inference``, ``core``, ``obs_dim``) so
these tests do not depend on a trainer; the env is the real PendulumNoVel (Pendulum-v1 with the
velocity masked).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from rnn_control.cli import main as cli_main
from rnn_control.explain.attribution import finite_difference_attribution, torch_attribution
from rnn_control.explain.gates import gate_activations
from rnn_control.explain.recording import TorchStepper, record_episode
from rnn_control.models.cores import RecurrentCore
from rnn_control.models.registry import register_model
from rnn_control.scenario import load_scenario
from rnn_control.train.common.checkpoint import save_checkpoint


@register_model
class ExplainStandIn(nn.Module):
    """Affine normalisation -> recurrent core -> linear head (2 * tanh, like Pendulum's range).

    ``memoryless=True`` bypasses the core (the action depends on the current frame only);
    ``leaky=True`` makes an Elman RNN a leaky integrator of its input (h ~ sum 0.9^k x_{t-k}).
    """

    def __init__(
        self, obs_dim=2, act_dim=1, cell="gru", hidden=8, layers=1, memoryless=False, leaky=False, seed=0
    ):
        super().__init__()
        torch.manual_seed(seed)
        self.obs_dim, self.act_dim, self.memoryless = obs_dim, act_dim, memoryless
        self.core = RecurrentCore(obs_dim, hidden, layers, cell, nominal_dt=0.05)
        self.head = nn.Linear(obs_dim if memoryless else hidden, act_dim)
        self.register_buffer("mean", torch.full((obs_dim,), 0.1))
        if leaky:
            assert cell == "rnn" and layers == 1 and hidden == obs_dim
            with torch.no_grad():
                self.core.rnn.weight_ih_l0.copy_(0.3 * torch.eye(obs_dim))
                self.core.rnn.weight_hh_l0.copy_(0.9 * torch.eye(obs_dim))
                self.core.rnn.bias_ih_l0.zero_()
                self.core.rnn.bias_hh_l0.zero_()

    def act_inference(self, obs, state, dt=None):
        x = obs - self.mean
        y, state = self.core(x.unsqueeze(0), state, None, None if dt is None else dt.unsqueeze(0))
        feat = x if self.memoryless else y.squeeze(0)
        return 2 * torch.tanh(self.head(feat)), state


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("pendulum_novel")


@pytest.mark.parametrize("cell,layers", [("gru", 1), ("gru", 2), ("lstm", 2), ("rnn", 2), ("tgru", 2)])
def test_gates_recomputed_from_weights_match_the_recorded_state(scenario, cell, layers):
    model = ExplainStandIn(cell=cell, layers=layers)
    rec = record_episode(TorchStepper(model), scenario.env, seed=1, control_period=0.05, max_steps=60)
    assert rec.length == 60 and rec.states_before[0].shape == (60, layers, 8)
    np.testing.assert_allclose(rec.core_inputs, rec.observations - 0.1, atol=1e-6)
    trace = gate_activations(model.core, rec.core_inputs, rec.states_before, rec.states_after, rec.dts)
    assert trace.reconstruction_error < 1e-5
    expected = {"gru": {"update", "reset"}, "tgru": {"update", "reset"}}.get(cell)
    expected = expected or {"lstm": {"input", "forget", "output"}, "rnn": {"hidden"}}[cell]
    assert set(trace.gates) == expected
    for g in trace.gates.values():
        assert g.shape == (60, layers, 8) and np.isfinite(g).all()
        if cell != "rnn":
            assert g.min() >= 0 and g.max() <= 1


def test_window_replay_reproduces_the_recorded_action(scenario):
    model = ExplainStandIn(cell="lstm", layers=2)
    rec = record_episode(TorchStepper(model), scenario.env, seed=2, control_period=0.05, max_steps=80)
    attr = torch_attribution(model, rec, window=16, n_times=10, method="ig", steps=8)
    assert attr.replay_error < 1e-5
    assert attr.values.shape == (2, 17) and np.isfinite(attr.values).all()


def test_memoryless_policy_looks_only_at_the_current_frame(scenario):
    model = ExplainStandIn(memoryless=True)
    rec = record_episode(TorchStepper(model), scenario.env, seed=0, control_period=0.05, max_steps=80)
    attr = torch_attribution(model, rec, window=10, n_times=16)
    assert attr.current_frame_share > 0.999 and attr.lag_for_mass(0.9) == 0
    assert attr.memory_beyond_window < 1e-6
    assert "little use of memory" in attr.summary_text()


def test_leaky_integrator_attribution_decays_over_many_lags(scenario):
    model = ExplainStandIn(cell="rnn", hidden=2, leaky=True)
    rec = record_episode(TorchStepper(model), scenario.env, seed=0, control_period=0.05, max_steps=120)
    attr = torch_attribution(model, rec, window=30, n_times=32, method="ig")
    prof = attr.lag_profile
    assert attr.current_frame_share < 0.3 and attr.lag_for_mass(0.9) >= 8
    assert prof[0] > prof[5] > prof[15]  # geometric decay, 0.9 per step
    assert "uses its memory" in attr.summary_text()
    # Finite differences through the stepper agree with the gradient (same gxi definition).
    gxi = torch_attribution(model, rec, window=12, n_times=8, method="gxi")
    fd = finite_difference_attribution(TorchStepper(model), rec, window=12, n_times=8, eps=1e-2)
    np.testing.assert_allclose(fd.values, gxi.values, rtol=0.05, atol=1e-3 * gxi.values.max())


def _save_standin_checkpoint(path, scenario, **kwargs):
    model = ExplainStandIn(**kwargs)
    save_checkpoint(
        path,
        {
            "kind": "policy",
            "config": scenario.to_dict(),
            "model_class": "ExplainStandIn",
            "model_kwargs": kwargs,
            "model_state": model.state_dict(),
            "spaces": {},
            "control_period": 0.05,
            "step": 0,
        },
    )
    return path


def test_explain_command_writes_plots_and_summary(tmp_path, scenario, capsys):
    ckpt = _save_standin_checkpoint(tmp_path / "policy" / "checkpoint.pt", scenario, cell="gru", layers=2)
    out = tmp_path / "explain"
    rc = cli_main(
        ["explain", str(ckpt), "--out", str(out), "--window", "12", "--times", "8", "--max-steps", "60"]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "How far back the policy looks" in text and "update" in text
    for name in ("gates.png", "attribution.png", "explain.md", "explain.json"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "explain.json").read_text())
    assert summary["gates"]["cell"] == "gru" and summary["gates"]["reconstruction_error"] < 1e-5
    profile, lag_90 = np.asarray(summary["attribution"]["lag_profile"]), summary["attribution"]["lag_90"]
    assert abs(profile.sum() - 1) < 1e-6 and len(profile) == 12 + 1  # lags 0..window
    # lag_90 is the smallest lag whose cumulative share reaches 90 % (not just any lag in the window)
    assert profile[: lag_90 + 1].sum() >= 0.9 - 1e-9 and (lag_90 == 0 or profile[:lag_90].sum() < 0.9)


def test_explain_refuses_bad_input(tmp_path, scenario, capsys):
    assert cli_main(["explain", str(tmp_path / "missing.pt")]) == 2
    assert "no such checkpoint or bundle" in capsys.readouterr().err
    ckpt = _save_standin_checkpoint(tmp_path / "c.pt", scenario, obs_dim=3)
    assert cli_main(["explain", str(ckpt), "--max-steps", "40"]) == 2
    assert "expects 3" in capsys.readouterr().err
    assert cli_main(["explain", str(ckpt), "--scenario", "no_such_scenario"]) == 2
    assert "not found" in capsys.readouterr().err


def _bundle_of(model, scenario, path):
    """Export a contract-following torch policy with the low-level exporter and the scenario."""
    import dataclasses

    from rnn_control.export.onnx_graph import export_graph
    from tests.bundles import policy_metadata

    core = model.core
    meta = policy_metadata(core.cell, model.obs_dim, model.act_dim, core.hidden_size, core.num_layers, 0.05)
    meta = dataclasses.replace(meta, scenario=scenario.to_dict())
    return export_graph(model.eval(), meta, path)


def test_explain_a_bundle_by_finite_differences_through_onnxruntime(tmp_path, scenario):
    from tests.bundles import TinyPolicy

    model = TinyPolicy(obs_dim=2, act_dim=1, hidden=8, layers=1, cell="gru", nominal_dt=0.05)
    bundle = _bundle_of(model, scenario, tmp_path / "bundles" / "policy.onnx")
    out = tmp_path / "explain_bundle"
    result = __import__("rnn_control.explain.report", fromlist=["explain"]).explain(
        bundle, out_dir=out, window=8, n_times=6, max_steps=40, grad_flow=False
    )
    assert result.gates is None  # no torch weights: the hidden state is plotted instead
    assert "finite differences through onnxruntime" in result.attribution.method
    assert result.attribution.replay_error < 1e-4
    assert "no matching checkpoint" in result.text
    assert (out / "gates.png").is_file() and (out / "attribution.png").is_file()
    # the same numbers as the gradient through the torch model (same gradient x input definition)
    torch_rec = record_episode(TorchStepper(model), scenario.env, seed=0, control_period=0.05, max_steps=40)
    np.testing.assert_allclose(result.record.actions, torch_rec.actions, atol=1e-5)
    gxi = torch_attribution(model, torch_rec, window=8, n_times=6, method="gxi")
    np.testing.assert_allclose(result.attribution.values, gxi.values, rtol=0.05, atol=0.02 * gxi.values.max())


def test_explain_a_bundle_uses_the_checkpoint_beside_it(tmp_path, scenario):
    from tests.bundles import TinyPolicy

    kwargs = {"obs_dim": 2, "act_dim": 1, "hidden": 8, "layers": 2, "cell": "lstm", "nominal_dt": 0.05}
    model = TinyPolicy(**kwargs)
    bundle = _bundle_of(model, scenario, tmp_path / "run" / "bundles" / "policy.onnx")
    save_checkpoint(
        tmp_path / "run" / "policy" / "checkpoint.pt",
        {
            "kind": "policy", "config": scenario.to_dict(), "model_class": "TinyPolicy",
            "model_kwargs": kwargs, "model_state": model.state_dict(), "spaces": {},
            "control_period": 0.05, "step": 0,
        },
    )  # fmt: skip
    rc = cli_main(
        ["explain", str(bundle), "--window", "8", "--times", "6", "--max-steps", "40", "--no-grad-flow"]
    )
    assert rc == 0
    summary = json.loads((tmp_path / "run" / "bundles" / "explain" / "explain.json").read_text())
    assert summary["gates"]["cell"] == "lstm" and summary["gates"]["reconstruction_error"] < 1e-5
    assert any("checkpoint beside the bundle" in n for n in summary["notes"])
