"""A trained-shape dynamics model exports through the bundle exporter and matches onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnn_control.models import RecurrentDynamicsModel

onnxruntime = pytest.importorskip("onnxruntime")
onnx_graph = pytest.importorskip("rnn_control.export.onnx_graph")
from rnn_control.contract.metadata import ActionField, BundleMetadata, ObservationField  # noqa: E402


@pytest.mark.parametrize("cell", ["lstm"])  # h and c; gru is the same graph minus c
def test_predict_inference_exports_and_matches_onnxruntime(cell, tmp_path):
    torch.manual_seed(0)
    model = RecurrentDynamicsModel(2, 1, cell, hidden_size=16).eval()
    obs = torch.randn(50, 2)
    model.fit_normalizers(obs[:-1], torch.randn(49, 1), obs[1:])
    meta = BundleMetadata(
        schema_version=1, kind="dynamics", cell=cell, num_layers=1, hidden_size=16,
        observation=[ObservationField(n, f"vector/{i}") for i, n in enumerate(["cos", "sin", "torque"])],
        action=[ActionField(n, f"vector/{i}", -1.5, 1.5) for i, n in enumerate(["cos", "sin"])],
        control_period=0.05, has_std=True,
    )  # fmt: skip
    path = onnx_graph.export_graph(model, meta, tmp_path / "dyn.onnx")
    sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    state = model.initial_state(1)
    feeds = {"h_in": np.zeros((1, 1, 16), np.float32)}
    if cell == "lstm":
        feeds["c_in"] = np.zeros((1, 1, 16), np.float32)
    for _ in range(20):  # step both with their own carried state
        x = torch.randn(1, 3)
        with torch.no_grad():
            mean, std, state = model.predict_inference(x, state)
        out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"obs": x.numpy(), **feeds})))
        np.testing.assert_allclose(out["actions"], mean.numpy(), atol=1e-5)
        np.testing.assert_allclose(out["std"], std.numpy(), atol=1e-5)
        feeds["h_in"] = out["h_out"]
        if cell == "lstm":
            feeds["c_in"] = out["c_out"]
