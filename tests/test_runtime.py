"""The torch-free runtime against real exported bundles: parity with PyTorch for every cell,
state handling, IO spec, safety filter, controller fail-safe behaviour and provider selection."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnn_control.contract import ActionField, ObservationField, parse_source, parse_target
from rnn_control.errors import BundleError
from rnn_control.runtime import (
    Controller,
    IOSpec,
    ObservationError,
    SafetyFilter,
    Stepper,
    read_bundle_metadata,
    select_providers,
)
from tests.bundles import make_dynamics_bundle, make_policy_bundle, torch_rollout

ROOT = Path(__file__).resolve().parent.parent


def _runtime_rollout(policy: Stepper, observations: np.ndarray, resets=(), dt=None) -> np.ndarray:
    outs = []
    for t, obs in enumerate(observations):
        if t in resets:
            policy.reset()
        outs.append(policy.step(obs, dt).copy())
    return np.array(outs)


@pytest.mark.parametrize("cell,layers", [("gru", 1), ("lstm", 2), ("rnn", 1), ("tgru", 2)])
def test_policy_matches_pytorch_for_every_cell(tmp_path, cell, layers):
    path, model = make_policy_bundle(tmp_path, cell=cell, layers=layers, act_dim=2, return_model=True)
    policy = Stepper.load(path, providers="cpu")
    obs = torch.randn(300, 3, generator=torch.Generator().manual_seed(1)) * 2
    dt = 0.02 if cell == "tgru" else None
    ref, ref_state = torch_rollout(model, obs, resets=(150,), dt=dt)
    out = _runtime_rollout(policy, obs.numpy(), resets=(150,), dt=dt)
    assert np.abs(out - ref.numpy()).max() < 1e-5
    for got, want in zip(policy.state, ref_state):
        assert got.shape == tuple(want.shape)
        assert np.abs(got - want.numpy()).max() < 1e-5
    assert policy.provider == "CPUExecutionProvider"
    assert policy.metadata.cell == cell and policy.metadata.num_layers == layers


def test_time_aware_bundle_uses_dt(tmp_path):
    policy = Stepper.load(make_policy_bundle(tmp_path, cell="tgru"))
    obs = np.ones(3, np.float32)
    a = policy.step(obs, dt=0.02).copy()
    policy.reset()
    b = policy.step(obs).copy()  # default dt = control period
    policy.reset()
    c = policy.step(obs, dt=0.5).copy()
    assert np.allclose(a, b) and not np.allclose(a, c)


def test_reset_state_and_set_state(tmp_path):
    policy = Stepper.load(make_policy_bundle(tmp_path, cell="lstm"))
    obs = np.array([0.3, -0.2, 1.0], np.float32)
    first = policy.step(obs).copy()
    saved = policy.state
    second = policy.step(obs).copy()
    assert not np.allclose(first, second)
    policy.set_state(saved)
    assert np.allclose(policy.step(obs), second)
    policy.reset()
    assert all(not s.any() for s in policy.state)
    assert np.allclose(policy.step(obs), first)
    assert policy.state_is_finite()


def test_dynamics_bundle_outputs_mean_and_std(tmp_path):
    path, model = make_dynamics_bundle(tmp_path, cell="gru", return_model=True)
    policy = Stepper.load(path)
    assert policy.metadata.kind == "dynamics" and policy.metadata.has_std
    x = np.array([0.1, 0.2, 0.3, -1.0], np.float32)
    mean = policy.step(x).copy()
    with torch.no_grad():
        ref_mean, ref_std, _ = model.predict_inference(
            torch.from_numpy(x).view(1, -1), model.core.initial_state(1)
        )
    assert np.abs(mean - ref_mean.numpy()[0]).max() < 1e-5
    assert np.abs(policy.last_std - ref_std.numpy()[0]).max() < 1e-5


def test_fresh_process_reproduces_pytorch_without_torch(tmp_path):
    """Export, reload in a process that imports only the runtime, replay 1000 steps with a reset."""
    path, model = make_policy_bundle(tmp_path, cell="gru", hidden=32, return_model=True)
    obs = torch.randn(1000, 3, generator=torch.Generator().manual_seed(3))
    ref, _ = torch_rollout(model, obs, resets=(500,))
    np.save(tmp_path / "obs.npy", obs.numpy())
    np.save(tmp_path / "ref.npy", ref.numpy())
    code = f"""
import sys, numpy as np
from rnn_control.runtime import Stepper
p = Stepper.load({str(path)!r})
obs = np.load({str(tmp_path / "obs.npy")!r}); ref = np.load({str(tmp_path / "ref.npy")!r})
out = []
for t, o in enumerate(obs):
    if t == 500:
        p.reset()
    out.append(p.step(o).copy())
diff = float(np.abs(np.array(out) - ref).max())
bad = [m for m in ("torch", "gymnasium", "onnx") if m in sys.modules]
assert not bad, bad
assert diff < 1e-4, diff
print("max_abs_diff", diff)
"""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "max_abs_diff" in res.stdout


# ----------------------------------------------------------------------------- bad input


def test_missing_truncated_and_non_onnx_files(tmp_path):
    with pytest.raises(BundleError, match="no such bundle file"):
        Stepper.load(tmp_path / "nope.onnx")
    good = make_policy_bundle(tmp_path)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(BundleError, match=r"truncated\.onnx: not a loadable ONNX model"):
        Stepper.load(truncated)
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n")
    with pytest.raises(BundleError, match="not a loadable ONNX model"):
        Stepper.load(text)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(BundleError, match="empty"):
        Stepper.load(empty)


def _rewrite(path: Path, out: Path, edit) -> Path:
    proto = onnx.load(str(path))
    edit(proto)
    onnx.save(proto, str(out))
    return out


def test_inputs_not_following_the_convention(tmp_path):
    good = make_policy_bundle(tmp_path)

    def rename(proto):
        for inp in proto.graph.input:
            if inp.name == "obs":
                inp.name = "observation"
        for node in proto.graph.node:
            node.input[:] = ["observation" if n == "obs" else n for n in node.input]

    bad = _rewrite(good, tmp_path / "renamed.onnx", rename)
    with pytest.raises(
        BundleError, match=r"renamed\.onnx: graph inputs .*missing \['obs'\].*unexpected \['observation'\]"
    ):
        Stepper.load(bad)


def test_metadata_shape_mismatch_names_tensor_and_shapes(tmp_path):
    good = make_policy_bundle(tmp_path, obs_dim=3)

    def lie(proto):
        entry = next(p for p in proto.metadata_props if p.key == "rnn_control")
        data = json.loads(entry.value)
        data["observation"].append({"name": "extra", "source": "vector/3"})
        entry.value = json.dumps(data)

    bad = _rewrite(good, tmp_path / "lying.onnx", lie)
    with pytest.raises(BundleError, match=r"input tensor 'obs' has shape \[1, 3\], expected \[1, 4\]"):
        Stepper.load(bad)


def test_metadata_missing_fields(tmp_path):
    good = make_policy_bundle(tmp_path)

    def drop(proto):
        entry = next(p for p in proto.metadata_props if p.key == "rnn_control")
        data = json.loads(entry.value)
        del data["control_period"]
        entry.value = json.dumps(data)

    bad = _rewrite(good, tmp_path / "nometa_field.onnx", drop)
    with pytest.raises(
        BundleError, match=r"nometa_field\.onnx: metadata: missing required key 'control_period'"
    ):
        read_bundle_metadata(bad)


def test_metadata_with_a_malformed_source_fails_at_load(tmp_path):
    def bad_source(proto):
        entry = next(p for p in proto.metadata_props if p.key == "rnn_control")
        data = json.loads(entry.value)
        data["observation"][1]["source"] = "joint_state/angle/pole"
        entry.value = json.dumps(data)

    bad = _rewrite(make_policy_bundle(tmp_path), tmp_path / "badsrc.onnx", bad_source)
    with pytest.raises(
        BundleError, match=r"badsrc\.onnx: metadata: observation 'obs_1': source .* not valid"
    ):
        Stepper.load(bad)


def test_bundle_without_metadata_and_without_sidecar(tmp_path):
    bare = _rewrite(make_policy_bundle(tmp_path), tmp_path / "bare.onnx", lambda p: p.metadata_props.clear())
    with pytest.raises(BundleError, match="no 'rnn_control' metadata and no YAML sidecar"):
        Stepper.load(bare)


def test_wrong_observation_length_raises_on_policy(tmp_path):
    policy = Stepper.load(make_policy_bundle(tmp_path))
    with pytest.raises(ObservationError, match=r"observation has 2 values .* expected 3"):
        policy.step(np.zeros(2))


# ----------------------------------------------------------------------------- sidecar (rsl_rl style)


def test_foreign_bundle_with_yaml_sidecar(tmp_path):
    path, model = make_policy_bundle(tmp_path, cell="lstm", hidden=8, act_dim=2, return_model=True)
    bare = _rewrite(path, tmp_path / "rsl_policy.onnx", lambda p: p.metadata_props.clear())
    sidecar = tmp_path / "io.yaml"
    sidecar.write_text(
        "control_period: 0.02\n"
        "observation:\n"
        "  - {name: joint_pos, source: joint_state/position/hip, unit: rad}\n"
        "  - {name: joint_vel, source: joint_state/velocity/hip, unit: rad/s}\n"
        "  - {name: yaw_rate, source: imu/angular_velocity/z}\n"
        "action:\n"
        "  - {name: hip, target: joint/hip, low: -1.0, high: 1.0, scale: 0.5}\n"
        "  - {name: knee, target: joint/knee, low: -1.0, high: 1.0}\n"
    )
    policy = Stepper.load(bare, sidecar=sidecar)
    meta = policy.metadata
    assert (meta.cell, meta.num_layers, meta.hidden_size, meta.producer) == ("lstm", 1, 8, "sidecar")
    obs = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    ref, _ = torch_rollout(model, obs)
    assert np.abs(_runtime_rollout(policy, obs.numpy()) - ref.numpy()).max() < 1e-5
    # found automatically next to the bundle as <name>.yaml
    sidecar.rename(tmp_path / "rsl_policy.yaml")
    controller = Controller.load(bare)
    assert controller.spec.action_names == ["hip", "knee"]
    cmd = controller.step(obs[0].numpy())
    assert np.all(np.abs(cmd) <= 1.0)


def test_sidecar_with_wrong_sizes_is_rejected(tmp_path):
    _rewrite(make_policy_bundle(tmp_path), tmp_path / "x.onnx", lambda p: p.metadata_props.clear())
    (tmp_path / "x.yaml").write_text(
        "control_period: 0.02\nobservation: [{name: a, source: vector/0}]\n"
        "action: [{name: u, target: vector/0, low: -1, high: 1}]\n"
    )
    with pytest.raises(BundleError, match=r"'obs' has shape \[1, 3\], expected \[1, 1\]"):
        Stepper.load(tmp_path / "x.onnx")


# ----------------------------------------------------------------------------- IO spec


def test_source_and_target_grammar():
    assert parse_source("joint_state/position/pole").path == ("position", "pole")
    assert parse_source("imu/orientation/w").group == "imu"
    assert parse_source("odometry/twist/angular/z").path == ("twist", "angular", "z")
    assert parse_source("vector/12").index == 12
    assert parse_source("last_action/0").group == "last_action"
    assert parse_target("joint/elbow").path == ("elbow",)
    assert parse_target("twist/linear/x").group == "twist"
    for bad in ("joint_state/accel/x", "imu/orientation/q", "vector/x", "odometry/pose/x", "", "foo/1"):
        with pytest.raises(ValueError, match="allowed forms"):
            parse_source(bad)
    for bad in ("joint/", "twist/linear/w", "vector/-1"):
        with pytest.raises(ValueError, match="allowed forms"):
            parse_target(bad)


def test_iospec_rejects_bad_source_naming_the_field(tmp_path):
    obs = [ObservationField("a", "vector/0"), ObservationField("b", "imu/angle/x")]
    with pytest.raises(BundleError, match="observation 'b': source 'imu/angle/x' is not valid"):
        IOSpec(obs, [ActionField("u", "vector/0", -1, 1)])


def test_iospec_builds_observations_and_commands():
    spec = IOSpec(
        [ObservationField("x", "vector/0"), ObservationField("v", "joint_state/velocity/j")],
        [ActionField("u", "joint/j", low=-2, high=2, scale=2.0, offset=0.5, safe=0.0)],
    )
    assert spec.build_observation({"v": 2.0, "x": 1.0, "ignored": 9}).tolist() == [1.0, 2.0]
    with pytest.raises(KeyError, match=r"missing: \['v'\]"):
        spec.build_observation({"x": 1.0})
    assert [s.group for s in spec.sources] == ["vector", "joint_state"]
    assert (spec.scale.tolist(), spec.offset.tolist(), spec.targets[0].path) == ([2.0], [0.5], ("j",))


# ----------------------------------------------------------------------------- safety filter


def test_safety_filter_clips_slews_and_replaces_non_finite():
    spec = IOSpec(
        [ObservationField("x", "vector/0")],
        [
            ActionField("a", "vector/0", -1, 1, safe=0.2, max_rate=10.0),
            ActionField("b", "vector/1", 0, 5, safe=1.0),
        ],
    )
    f = SafetyFilter(spec)
    assert f(np.array([5.0, -3.0]), 0.01).tolist() == [1.0, 0.0]  # clipped, no previous command
    assert f.counters["clipped"] == 1
    out = f(np.array([-1.0, 4.0]), 0.01)  # a may move 0.1 per 10 ms
    assert out == pytest.approx([0.9, 4.0]) and f.counters["slew_limited"] == 1
    out = f(np.array([np.nan, np.inf]), 0.01)
    assert out.tolist() == [0.2, 1.0] and f.counters["non_finite"] == 1  # safe at once, no slew
    f.reset()
    assert f(np.array([-1.0, 0.0]), 0.01).tolist() == [-1.0, 0.0]
    g = SafetyFilter(spec, max_rate=1.0)  # override for every entry
    g(np.zeros(2), 0.1)
    assert g(np.ones(2), 0.1) == pytest.approx([0.1, 0.1])


# ----------------------------------------------------------------------------- controller


def test_controller_fails_safe_on_bad_observations(tmp_path):
    action = [ActionField("u", "vector/0", -1.0, 1.0, safe=0.25)]
    controller = Controller.load(make_policy_bundle(tmp_path, action=action))
    good = np.array([0.1, 0.2, 0.3])
    controller.step(good)
    assert any(s.any() for s in controller.stepper.state)
    for bad, counter in (
        (np.array([0.1, np.nan, 0.3]), "non_finite_observation"),
        (np.zeros(5), "bad_observation_length"),
        ("garbage", "bad_observation_length"),
        (None, "bad_observation_length"),
    ):
        cmd = controller.step(bad)
        assert cmd.tolist() == [0.25]
        assert controller.counters[counter] >= 1
        assert all(not s.any() for s in controller.stepper.state)  # state reset
    assert controller.counters["resets"] == 4
    cmd = controller.step(good, dt=float("nan"))  # bad dt: counted, nominal period used
    assert np.isfinite(cmd).all() and controller.counters["bad_dt"] == 1


def test_controller_replaces_non_finite_output_and_resets_state(tmp_path):
    controller = Controller.load(
        make_policy_bundle(tmp_path, action=[ActionField("u", "vector/0", -1, 1, safe=0.0)])
    )
    controller.step(np.ones(3))
    controller.stepper.set_state([np.full((1, 1, 16), np.inf, np.float32)])  # output goes non-finite
    cmd = controller.step(np.ones(3))
    assert cmd.tolist() == [0.0]
    assert controller.counters["non_finite_output"] + controller.counters["non_finite_state"] == 1
    assert controller.stepper.state_is_finite()
    assert np.isfinite(controller.step(np.ones(3))).all()


def test_controller_output_always_inside_limits(tmp_path):
    controller = Controller.load(
        make_policy_bundle(tmp_path, action=[ActionField("u", "vector/0", -0.1, 0.1)])
    )
    rng = np.random.default_rng(0)
    cmds = np.array([controller.step(rng.normal(0, 10, 3)) for _ in range(200)])
    assert np.all(np.abs(cmds) <= 0.1) and controller.counters["clipped"] > 0


# ----------------------------------------------------------------------------- providers


def test_provider_selection():
    avail = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert select_providers("auto", avail)[0] == avail
    assert select_providers("cuda", avail) == (["CUDAExecutionProvider", "CPUExecutionProvider"], [])
    assert select_providers("cuda", ["CPUExecutionProvider"]) == (
        ["CPUExecutionProvider"],
        ["CUDAExecutionProvider"],
    )
    assert select_providers(["trt", "cpu"], ["CPUExecutionProvider"])[0] == ["CPUExecutionProvider"]
    with pytest.raises(BundleError, match="unknown execution provider 'tpu'"):
        select_providers("tpu", avail)


def test_cpu_path_and_cuda_fallback_are_logged(tmp_path, caplog):
    path = make_policy_bundle(tmp_path)
    with caplog.at_level(logging.INFO, logger="rnn_control.runtime"):
        assert Stepper.load(path, providers="cpu").provider == "CPUExecutionProvider"
    assert "running on CPUExecutionProvider" in caplog.text
    caplog.clear()
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA available here; fallback path not reachable")
    with caplog.at_level(logging.INFO, logger="rnn_control.runtime"):
        policy = Stepper.load(path, providers="cuda")
    assert policy.provider == "CPUExecutionProvider"
    assert (
        "CUDAExecutionProvider not available" in caplog.text
        and "running on CPUExecutionProvider" in caplog.text
    )


_controller_cache: dict[str, Controller] = {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    obs=st.lists(st.one_of(st.floats(), st.floats(-1e3, 1e3)), min_size=0, max_size=6),
    dt=st.one_of(st.none(), st.floats()),
)
def test_controller_never_raises_and_stays_in_limits(tmp_path_factory, obs, dt):
    if "c" not in _controller_cache:
        action = [
            ActionField("u", "vector/0", -1.0, 1.0, safe=0.5, max_rate=20.0),
            ActionField("v", "vector/1", 0.0, 3.0, safe=0.0),
        ]
        path = make_policy_bundle(tmp_path_factory.mktemp("hyp"), act_dim=2, action=action)
        _controller_cache["c"] = Controller.load(path)
    controller = _controller_cache["c"]
    cmd = controller.step(np.array(obs, dtype=np.float64), dt)
    assert cmd.shape == (2,) and np.isfinite(cmd).all()
    assert -1.0 <= cmd[0] <= 1.0 and 0.0 <= cmd[1] <= 3.0
    assert controller.stepper.state_is_finite()


def test_tensorrt_request_with_engine_cache_falls_back_to_cpu(tmp_path, caplog):
    import onnxruntime as ort

    from rnn_control.runtime import tensorrt_options

    if "TensorrtExecutionProvider" in ort.get_available_providers():
        pytest.skip("TensorRT available here")
    options = tensorrt_options(tmp_path / "trt_cache", fp16=True)
    assert options["TensorrtExecutionProvider"]["trt_engine_cache_path"] == str(tmp_path / "trt_cache")
    with caplog.at_level(logging.WARNING, logger="rnn_control.runtime"):
        controller = Controller.load(
            make_policy_bundle(tmp_path), providers="tensorrt", provider_options=options
        )
    assert controller.stepper.provider == "CPUExecutionProvider"
    assert "TensorrtExecutionProvider not available" in caplog.text
    controller.stepper.warmup(5)
    assert all(not s.any() for s in controller.stepper.state)


def test_inspect_foreign_bundle_with_sidecar(tmp_path):
    bare = _rewrite(
        make_policy_bundle(tmp_path), tmp_path / "foreign.onnx", lambda p: p.metadata_props.clear()
    )
    (tmp_path / "io.yaml").write_text(
        "control_period: 0.01\n"
        "observation:\n  - {name: a, source: vector/0}\n  - {name: b, source: vector/1}\n"
        "  - {name: c, source: last_action/0}\n"
        "action: [{name: u, target: twist/linear/x, low: -0.5, high: 0.5, unit: m/s}]\n"
    )
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-m", "rnn_control", "inspect", str(bare), "--sidecar", str(tmp_path / "io.yaml")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert "producer sidecar" in res.stdout and "twist/linear/x" in res.stdout and "100.0 Hz" in res.stdout
    res = subprocess.run(
        [sys.executable, "-m", "rnn_control", "inspect", str(bare)], capture_output=True, text=True, env=env
    )
    assert res.returncode == 2 and "no 'rnn_control' metadata and no YAML sidecar" in res.stderr
