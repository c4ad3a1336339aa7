"""Exporting checkpoints: bundle format, closed-loop parity, fp16/int8 variants, CLI commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from rnn_control.errors import BundleError, CheckpointError
from rnn_control.export.exporter import ExportOptions, export_checkpoint
from rnn_control.runtime import Controller, Stepper, read_bundle_metadata
from tests.bundles import write_checkpoint
from tests.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=Path.cwd(), timeout=600)


def _check_bundle_file(path: Path, inputs: list[str], outputs: list[str]) -> onnx.ModelProto:
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert not list(path.parent.glob("*.onnx.data")), "weights must be inside the .onnx file"
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert [i.name for i in proto.graph.input] == inputs
    assert [o.name for o in proto.graph.output] == outputs
    for vi in list(proto.graph.input) + list(proto.graph.output):
        assert vi.type.tensor_type.shape.dim[0].dim_value >= 1  # static batch 1 / layers
    return proto


@pytest.mark.parametrize(
    "cell,inputs,outputs",
    [
        ("gru", ["obs", "h_in"], ["actions", "h_out"]),
        ("lstm", ["obs", "h_in", "c_in"], ["actions", "h_out", "c_out"]),
        ("rnn", ["obs", "h_in"], ["actions", "h_out"]),
        ("tgru", ["obs", "h_in", "dt"], ["actions", "h_out"]),
    ],
)
def test_export_policy_every_cell_with_parity(tmp_path, cell, inputs, outputs):
    ckpt = write_checkpoint(tmp_path, cell=cell, layers=2 if cell == "lstm" else 1)
    result = export_checkpoint(ckpt, tmp_path / "model.onnx")
    _check_bundle_file(result.path, inputs, outputs)
    meta = read_bundle_metadata(result.path)
    parity = meta.parity["torch_vs_onnxruntime"]
    assert parity["steps"] >= 1000 and parity["episodes"] >= 3  # forced mid reset + natural ones
    assert parity["max_abs_diff_output"] < 1e-4 and parity["max_abs_diff_state"] < 1e-4
    assert meta.cell == cell and meta.time_aware == (cell == "tgru")
    assert meta.observation[0].source == "vector/0" and meta.action[0].low == -2.0
    assert meta.scenario["env"]["id"] == "Pendulum-v1" and meta.control_period == pytest.approx(0.05)


def test_export_dynamics_bundle(tmp_path):
    ckpt = write_checkpoint(tmp_path, kind="dynamics", cell="lstm")
    result = export_checkpoint(ckpt, tmp_path / "dyn.onnx")
    _check_bundle_file(result.path, ["obs", "h_in", "c_in"], ["actions", "std", "h_out", "c_out"])
    meta = result.metadata
    assert [f.name for f in meta.observation] == ["cos_theta", "sin_theta", "cmd_torque"]
    assert meta.observation[2].source == "last_action/0"
    assert [f.name for f in meta.action] == ["next_cos_theta", "next_sin_theta"] and meta.has_std
    assert meta.parity["torch_vs_onnxruntime"]["max_abs_diff_std"] < 1e-4
    policy = Stepper.load(result.path)
    policy.step(np.zeros(3))
    assert policy.last_std.shape == (2,) and np.all(policy.last_std > 0)


def test_scenario_io_overrides_are_baked_into_the_bundle(tmp_path):
    io = {
        "observation": [{"name": "cos_theta", "source": "joint_state/position/pole"}, {"name": "sin_theta"}],
        "action": [{"name": "torque", "target": "joint/pole", "unit": "N*m", "max_rate": 40.0, "high": 1.5}],
    }
    ckpt = write_checkpoint(tmp_path, overrides={"io": io})
    meta = export_checkpoint(ckpt, tmp_path / "m.onnx", ExportOptions(parity_steps=50)).metadata
    assert [f.name for f in meta.observation] == ["cos_theta", "sin_theta"]
    assert meta.observation[1].source == "vector/1"  # default kept
    a = meta.action[0]
    assert (a.name, a.target, a.unit, a.max_rate, a.low, a.high) == (
        "torque",
        "joint/pole",
        "N*m",
        40.0,
        -2.0,
        1.5,
    )
    controller = Controller.load(tmp_path / "m.onnx")
    assert controller.spec.action_names == ["torque"]


def test_io_override_with_wrong_field_count_is_rejected(tmp_path):
    ckpt = write_checkpoint(tmp_path, overrides={"io": {"observation": [{"name": "only_one"}]}})
    with pytest.raises(CheckpointError, match=r"io\.observation: lists 1 fields but the model has 2"):
        export_checkpoint(ckpt, tmp_path / "m.onnx")


def test_parity_failure_is_loud_and_writes_nothing(tmp_path):
    ckpt = write_checkpoint(tmp_path, model_class="NoisyPolicy")
    out = tmp_path / "noisy.onnx"
    with pytest.raises(BundleError, match=r"parity check FAILED .* bundle NOT written"):
        export_checkpoint(ckpt, out, ExportOptions(parity_steps=50))
    assert not out.exists()


@pytest.mark.parametrize("cell", ["lstm", "tgru"])
def test_fp16_and_int8_variants_with_parity_against_fp32(tmp_path, cell):
    ckpt = write_checkpoint(tmp_path, cell=cell, hidden=32)
    result = export_checkpoint(ckpt, tmp_path / "m.onnx", ExportOptions(fp16=True, int8=True))
    assert set(result.variants) == {"fp16", "int8"}
    for name, path in result.variants.items():
        assert path.name == f"m.{name}.onnx"
        meta = read_bundle_metadata(path)
        assert meta.precision == name
        vs = meta.parity["vs_fp32"]
        assert vs["steps"] >= 1000 and 0 <= vs["max_abs_diff_output"] <= vs["tolerance"]
        policy = Stepper.load(path)  # IO stays float32
        assert policy.step(np.zeros(2, np.float32)).dtype == np.float32
    int8_ops = read_bundle_metadata(result.variants["int8"]).parity["vs_fp32"]["ops"]
    assert int8_ops.get("MatMulInteger", 0) >= 1  # the heads; the LSTM cell too
    assert int8_ops.get("DynamicQuantizeLSTM", 0) == (1 if cell == "lstm" else 0)


def test_bad_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        export_checkpoint(tmp_path / "missing.pt", tmp_path / "m.onnx")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable rnn_control checkpoint"):
        export_checkpoint(junk, tmp_path / "m.onnx")


def test_cli_export_inspect_and_bench(tmp_path):
    ckpt = write_checkpoint(tmp_path, cell="gru")
    out = tmp_path / "policy.onnx"
    res = _cli("export", str(ckpt), "-o", str(out), "--fp16", "--import", "tests.bundles")
    assert res.returncode == 0, res.stderr
    assert "parity vs PyTorch over 1000 closed-loop steps" in res.stdout and "policy.fp16.onnx" in res.stdout
    res = _cli("inspect", str(out))
    assert res.returncode == 0, res.stderr
    for text in (
        "kind policy, cell gru",
        "Observation",
        "vector/0",
        "Tensors",
        "h_in",
        "onnxruntime vs PyTorch",
    ):
        assert text in res.stdout
    res = _cli("inspect", str(out), "--json")
    assert json.loads(res.stdout)["cell"] == "gru"
    res = _cli("bench-runtime", str(out), "--steps", "1000", "--warmup", "10")
    assert res.returncode == 0, res.stderr
    assert "p50" in res.stdout and "p99" in res.stdout and "CPUExecutionProvider" in res.stdout
    res = _cli("inspect", str(tmp_path / "nope.onnx"))
    assert res.returncode == 2 and "no such bundle file" in res.stderr and "Traceback" not in res.stderr


# ----------------------------------------------------------------------------- the real model classes


def _real_policy_checkpoint(tmp_path: Path, overrides: dict, scenario: str = "pendulum_novel") -> Path:
    from rnn_control.envs import make_env
    from rnn_control.scenario import load_scenario
    from rnn_control.train.common.checkpoint import save_checkpoint
    from rnn_control.train.policy.setup import build_policy, checkpoint_payload, describe_spaces

    sc = load_scenario(scenario, overrides)
    env = make_env(sc.env, seed=0)
    spaces = describe_spaces(env.observation_space, env.action_space)
    model, name, kwargs = build_policy(sc, spaces)
    with torch.no_grad():  # untrained: give the normaliser and the actor head something to do
        model.normalizer.update(torch.randn(256, spaces["observation"]["shape"][0]) * 0.7 + 0.2)
        for p in model.actor_head.parameters():
            p.normal_(0, 0.5)
    payload = checkpoint_payload(sc, model, name, kwargs, spaces, env, step=0)
    env.close()
    return save_checkpoint(tmp_path / f"{name}.pt", payload)


@pytest.mark.parametrize(
    "overrides",
    [
        {"model": {"cell": "lstm", "hidden_size": 32}, "policy": {"shared_core": False}},
        {"model": {"cell": "tgru", "hidden_size": 16, "num_layers": 2}},
        {"model": {"cell": "gru", "hidden_size": 16}, "policy": {"architecture": "mlp"}},
        {"env": {"id": "CartPole-v1", "wrappers": []}, "io": {"observation": [], "action": []},
         "model": {"cell": "rnn", "hidden_size": 16}},
    ],
    ids=["lstm-separate-critic", "tgru-2-layers", "mlp", "discrete-cartpole"],
)
def test_export_real_policy_classes(tmp_path, overrides):
    ckpt = _real_policy_checkpoint(tmp_path, overrides)
    result = export_checkpoint(ckpt, tmp_path / "real.onnx")
    meta = result.metadata
    parity = meta.parity["torch_vs_onnxruntime"]
    assert parity["steps"] == 1000 and parity["max_abs_diff_output"] < 1e-4
    controller = Controller.load(result.path)
    cmd = controller.step(np.zeros(meta.obs_dim))
    assert cmd.shape == (1,) and -2.0 <= cmd[0] <= 2.0
    if "env" in overrides:  # discrete: one output, the argmax index, limits [0, n - 1]
        assert (meta.action[0].low, meta.action[0].high) == (0.0, 1.0) and cmd[0] in (0.0, 1.0)
    if overrides.get("policy", {}).get("architecture") == "mlp":
        assert meta.cell == "none" and controller.stepper.state == ()
        _check_bundle_file(result.path, ["obs"], ["actions"])


def test_export_real_dynamics_model(tmp_path):
    from rnn_control.models.dynamics import RecurrentDynamicsModel
    from rnn_control.scenario import load_scenario
    from rnn_control.train.common.checkpoint import save_checkpoint

    sc = load_scenario("pendulum_novel")
    model = RecurrentDynamicsModel(obs_dim=2, act_dim=1, cell="gru", hidden_size=16)
    payload = {
        "kind": "dynamics",
        "config": sc.to_dict(),
        "model_class": "RecurrentDynamicsModel",
        "model_kwargs": {"obs_dim": 2, "act_dim": 1, "cell": "gru", "hidden_size": 16},
        "model_state": model.state_dict(),
        "spaces": {
            "observation": {"shape": [2], "low": [-1.0, -1.0], "high": [1.0, 1.0]},
            "action": {"type": "box", "shape": [1], "low": [-2.0], "high": [2.0]},
        },
        "control_period": 0.05,
        "step": 0,
    }
    ckpt = save_checkpoint(tmp_path / "dyn.pt", payload)
    result = export_checkpoint(ckpt, tmp_path / "dyn.onnx")
    parity = result.metadata.parity["torch_vs_onnxruntime"]
    assert parity["max_abs_diff_output"] < 1e-4 and parity["max_abs_diff_std"] < 1e-4


def test_time_aware_parity_follows_the_envs_jittered_dt(tmp_path):
    overrides = {"env": {"wrappers": [{"mask_velocity": {}}, {"dt_jitter": {"jitter": 0.3}}]}}
    ckpt = write_checkpoint(tmp_path, cell="tgru", overrides=overrides)
    result = export_checkpoint(ckpt, tmp_path / "tgru.onnx", ExportOptions(parity_steps=300))
    assert result.metadata.parity["torch_vs_onnxruntime"]["max_abs_diff_output"] < 1e-4


# ------------------------------------------------- an independent check: fresh process vs the checkpoint

_REPLAY = r"""
import sys

import numpy as np

from rnn_control.runtime import Stepper

args = sys.argv[1:]
for bundle, inputs, output in zip(args[0::3], args[1::3], args[2::3]):
    data = np.load(inputs)
    stepper = Stepper.load(bundle)
    resets = set(data["resets"].tolist())
    actions, states, stds = [], [], []
    for t, obs in enumerate(data["obs"]):
        if t in resets:
            stepper.reset()
        actions.append(stepper.step(obs, float(data["dt"][t])).copy())
        states.append(np.concatenate([s.ravel() for s in stepper.state]) if stepper.state else np.zeros(0))
        if stepper.last_std is not None:
            stds.append(stepper.last_std.copy())
    np.savez(output, actions=np.array(actions), states=np.array(states), stds=np.array(stds))
assert "torch" not in sys.modules, "the runtime imported torch"
"""


def _torch_replay(ckpt_path: Path, obs: np.ndarray, resets: list[int], dts: np.ndarray) -> dict:
    """The checkpoint's model, rebuilt from the registry and its saved weights (not through the
    exporter), stepped one tick at a time in PyTorch."""
    from rnn_control.models.registry import MODEL_CLASSES

    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    model = MODEL_CLASSES[ckpt["model_class"]](**ckpt["model_kwargs"])
    model.load_state_dict(ckpt["model_state"])
    model.eval()
    policy = ckpt["kind"] == "policy"
    core = getattr(model, "core", None)

    def initial() -> tuple:
        return core.initial_state(1) if core is not None else ()

    time_aware = core is not None and core.cell == "tgru"
    state, out = initial(), {"actions": [], "states": [], "stds": []}
    with torch.no_grad():
        for t, o in enumerate(obs):
            if t in resets:
                state = initial()
            x = torch.as_tensor(o, dtype=torch.float32).view(1, -1)
            dt = torch.full((1, 1), float(dts[t])) if time_aware else None
            if policy:
                y, state = model.act_inference(x, state, dt)
            else:
                y, std, state = model.predict_inference(x, state, dt)
                out["stds"].append(std[0].numpy())
            out["actions"].append(y[0].numpy())
            out["states"].append(np.concatenate([s.numpy().ravel() for s in state]) if state else np.zeros(0))
    return {k: np.array(v) for k, v in out.items()}


def test_bundles_replayed_in_a_fresh_process_match_the_checkpoints_pytorch_model(tmp_path):
    """The parity figures inside a bundle are the exporter's own report. This check is not: a fresh
    process with the runtime only (it must not import torch) steps five exported bundles over 300
    steps with two resets (a jittered dt for tgru); the checkpoint's model, rebuilt here from its
    class and saved weights, steps the same inputs in PyTorch; outputs, std and the recurrent state
    must agree at every step."""
    real = {"model": {"cell": "lstm", "hidden_size": 32}, "policy": {"shared_core": False}}
    (tmp_path / "real").mkdir()
    checkpoints = {
        "gru": write_checkpoint(tmp_path, cell="gru"),
        "lstm_2_layers": write_checkpoint(tmp_path, cell="lstm", layers=2),
        "tgru": write_checkpoint(tmp_path, cell="tgru"),
        "dynamics_lstm": write_checkpoint(tmp_path, kind="dynamics", cell="lstm"),
        "recurrent_policy": _real_policy_checkpoint(tmp_path / "real", real),
    }
    rng = np.random.default_rng(0)
    steps, resets = 300, [100, 200]
    args, refs = [], {}
    for name, ckpt in checkpoints.items():
        bundle = export_checkpoint(ckpt, tmp_path / f"{name}.onnx", ExportOptions(parity_steps=50)).path
        obs_dim = read_bundle_metadata(bundle).obs_dim
        obs = (rng.normal(0.0, 1.5, (steps, obs_dim))).astype(np.float32)
        dts = 0.05 * rng.uniform(0.7, 1.3, steps)
        np.savez(tmp_path / f"{name}_in.npz", obs=obs, resets=np.array(resets), dt=dts)
        args += [str(bundle), str(tmp_path / f"{name}_in.npz"), str(tmp_path / f"{name}_out.npz")]
        refs[name] = _torch_replay(ckpt, obs, resets, dts)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", _REPLAY, *args], env=env, capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    for name, ref in refs.items():
        got = np.load(tmp_path / f"{name}_out.npz")
        assert np.std(ref["actions"]) > 1e-3, f"{name}: a trivial model proves nothing"
        for key, atol in (("actions", 1e-4), ("states", 1e-4), ("stds", 1e-4)):
            assert got[key].shape == ref[key].shape, (name, key)
            np.testing.assert_allclose(got[key], ref[key], rtol=1e-4, atol=atol, err_msg=f"{name}: {key}")
