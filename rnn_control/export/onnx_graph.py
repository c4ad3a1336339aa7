"""Low-level export: any module following the model inference contract -> one ONNX bundle file.

The graph has batch 1 and explicit state tensors, named as rsl_rl / Isaac Lab name them:
inputs ``obs [1, obs_dim]``, ``h_in [layers, 1, hidden]``, ``c_in`` (LSTM), ``dt [1, 1]``
(time-aware cells); outputs ``actions [1, act_dim]`` (dynamics: predicted next-observation mean),
``std`` (dynamics, optional), ``h_out``, ``c_out``. A feed-forward model (no ``core``) gives
a stateless bundle: ``obs`` -> ``actions`` only. The metadata JSON goes under
``metadata_props["rnn_control"]``.

Exporter mode is pinned: ``torch.onnx.export(..., dynamo=True)`` at opset 18, weights embedded
(``external_data=False``). The TorchScript exporter (``dynamo=False``) also handles GRU/LSTM/RNN
but is deprecated since torch 2.9; the dynamo exporter exports all four cells, including the
time-aware GRU's Python loop (unrolled for one step), as one self-contained file.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from pathlib import Path

import onnx
import torch
from torch import Tensor, nn

from rnn_control.atomic import atomic_path
from rnn_control.contract.metadata import METADATA_KEY, BundleMetadata
from rnn_control.errors import BundleError

OPSET = 18
DYNAMO = True


class BundleGraph(nn.Module):
    """Adapter with the bundle's flat signature around ``act_inference`` / ``predict_inference``."""

    def __init__(
        self, model: nn.Module, meta: BundleMetadata, command_affine: tuple[list, list] | None = None
    ) -> None:
        super().__init__()
        self.model = model
        self.kind = meta.kind
        self.lstm = meta.is_lstm
        self.time_aware = meta.time_aware
        self.has_std = meta.has_std
        self.n_state = (2 if meta.is_lstm else 1) if meta.stateful else 0
        # dynamics bundles take commands; a model trained on env actions gets (command - offset) / scale
        self.affine = command_affine is not None
        if command_affine is not None:
            scale, offset = command_affine
            self.n_sensor = meta.obs_dim - len(scale)
            self.register_buffer("cmd_scale", torch.tensor(scale, dtype=torch.float32).view(1, -1))
            self.register_buffer("cmd_offset", torch.tensor(offset, dtype=torch.float32).view(1, -1))

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        obs = inputs[0]
        if self.affine:
            commands = (obs[:, self.n_sensor :] - self.cmd_offset) / self.cmd_scale
            obs = torch.cat([obs[:, : self.n_sensor], commands], dim=-1)
        state = tuple(inputs[1 : 1 + self.n_state])
        dt = inputs[1 + self.n_state] if self.time_aware else None
        if self.kind == "policy":
            actions, new_state = self.model.act_inference(obs, state, dt)
            return (actions, *new_state)
        mean, std, new_state = self.model.predict_inference(obs, state, dt)
        return (mean, std, *new_state) if self.has_std else (mean, *new_state)


def io_names(meta: BundleMetadata) -> tuple[list[str], list[str]]:
    """Input and output tensor names of a bundle with this metadata."""
    inputs, outputs = ["obs"], ["actions"]
    if meta.has_std and meta.kind == "dynamics":
        outputs.append("std")
    if meta.stateful:
        inputs.append("h_in")
        outputs.append("h_out")
    if meta.is_lstm:
        inputs.append("c_in")
        outputs.append("c_out")
    if meta.time_aware:
        inputs.append("dt")
    return inputs, outputs


def example_inputs(meta: BundleMetadata) -> tuple[Tensor, ...]:
    state = torch.zeros(meta.num_layers, 1, meta.hidden_size)
    args = [torch.zeros(1, meta.obs_dim)]
    if meta.stateful:
        args.append(state)
    if meta.is_lstm:
        args.append(torch.zeros_like(state))
    if meta.time_aware:
        args.append(torch.full((1, 1), float(meta.control_period)))
    return tuple(args)


def export_graph(
    model: nn.Module,
    meta: BundleMetadata,
    path: str | Path,
    opset: int = OPSET,
    command_affine: tuple[list, list] | None = None,
) -> Path:
    """Export ``model`` (eval mode, CPU, float32) with ``meta`` embedded; checked with onnx.checker.
    ``command_affine``: a dynamics model trained on env actions (see ``export.layout.command_affine``).

    Returns the written path. The file is written atomically (temp file + rename).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu().float()
    graph = BundleGraph(model, meta, command_affine).eval()
    inputs, outputs = io_names(meta)
    with tempfile.TemporaryDirectory(prefix="rnn_control_export_") as tmp:
        raw = Path(tmp) / "graph.onnx"
        with torch.no_grad(), _quiet():
            torch.onnx.export(
                graph,
                example_inputs(meta),
                str(raw),
                input_names=inputs,
                output_names=outputs,
                opset_version=opset,
                dynamo=DYNAMO,
                external_data=False,
                optimize=True,
                verbose=False,
            )
        proto = onnx.load(str(raw))
    set_metadata(proto, meta)
    save_model(proto, path)
    return path


def set_metadata(proto: onnx.ModelProto, meta: BundleMetadata) -> None:
    """Store ``meta`` as JSON under ``metadata_props["rnn_control"]`` (replacing an old entry)."""
    keep = [p for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, meta.to_json()
    proto.producer_name = "rnn_control"


def save_model(proto: onnx.ModelProto, path: str | Path) -> Path:
    """Check and write one self-contained ONNX file atomically (no external data)."""
    path = Path(path)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise BundleError(f"{path}: exported graph fails onnx.checker: {exc}") from None
    if proto.ByteSize() > 2**31 - 1:
        raise BundleError(f"{path}: model larger than 2 GB cannot be a single-file bundle")
    with atomic_path(path) as tmp:
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
    return path


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's progress prints and deprecation chatter (errors still raise)."""
    loggers = [
        logging.getLogger(n) for n in ("torch.onnx", "torch._dynamo", "torch.export", "onnxscript", "onnx_ir")
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)
