"""Checkpoint -> parity-checked ONNX bundle (plus optional fp16 / int8 variants).

Pipeline: rebuild the model (``build_model``), derive the metadata (spaces, cell, scenario ``io:``
overrides), export the graph (``onnx_graph.export_graph``), simplify it with onnxslim when that
shrinks it and the outputs still match, then run the closed-loop parity check in the training
env (a model trained from bags: on the recorded inputs stored in its checkpoint). The bundle is
written only if parity is within tolerance; the figures go into its metadata.
Variants are compared against the fp32 bundle by replaying the same rollout.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import torch

from rnn_control.contract.metadata import BundleMetadata
from rnn_control.errors import BundleError, CheckpointError
from rnn_control.export.layout import command_affine, metadata_from_checkpoint
from rnn_control.export.onnx_graph import DYNAMO, OPSET, export_graph, save_model, set_metadata
from rnn_control.export.parity import Rollout, closed_loop_parity, recorded_parity, replay_parity
from rnn_control.export.variants import op_counts, simplify, to_fp16, to_int8
from rnn_control.models import build_model
from rnn_control.scenario import scenario_from_dict
from rnn_control.train.common.checkpoint import load_checkpoint

log = logging.getLogger("rnn_control.export")


@dataclass
class ExportOptions:
    fp16: bool = False
    int8: bool = False
    simplify: bool = True
    parity_steps: int = 1000
    tolerance: float = 1e-4  # fp32 bundle vs PyTorch (outputs and state)
    fp16_tolerance: float = 5e-2  # fp16 bundle vs fp32 bundle (outputs)
    int8_tolerance: float = 1e-1  # int8 bundle vs fp32 bundle (outputs)
    seed: int | None = None
    progress: bool = False  # tqdm bar over the parity rollout


@dataclass
class ExportResult:
    path: Path
    metadata: BundleMetadata
    variants: dict[str, Path] = field(default_factory=dict)
    variant_parity: dict[str, dict[str, Any]] = field(default_factory=dict)


def check_contract(model: torch.nn.Module, kind: str, where: str) -> None:
    """The attributes the exporter relies on (model inference contract)."""
    if callable(getattr(model, "member_models", None)):
        raise CheckpointError(
            f"{where}: an ensemble of dynamics models exports as a planning bundle only "
            "(rnn-control export CHECKPOINT --planning K H)"
        )
    method = "act_inference" if kind == "policy" else "predict_inference"
    missing = [a for a in ("obs_dim", "act_dim", method) if not hasattr(model, a)]
    if missing:
        raise CheckpointError(
            f"{where}: model {type(model).__name__} lacks {missing} required by the {kind} inference contract"
        )
    if getattr(model, "core", None) is None and hasattr(model, "initial_state"):
        try:
            state = model.initial_state(1)
        except TypeError:
            state = ()
        if len(state):
            raise CheckpointError(
                f"{where}: model {type(model).__name__} carries a state that is not a recurrent core's "
                "([layers, batch, hidden]); bundles hold recurrent (core) or feed-forward models only"
            )


def export_checkpoint(
    checkpoint: str | Path, output: str | Path, options: ExportOptions | None = None
) -> ExportResult:
    """Export ``checkpoint`` to ``output`` (``.onnx``); variants go beside it as
    ``<stem>.fp16.onnx`` / ``<stem>.int8.onnx``."""
    opts = options or ExportOptions()
    checkpoint, output = Path(checkpoint), Path(output)
    ckpt = load_checkpoint(checkpoint)
    model = build_model(ckpt)
    check_contract(model, ckpt.get("kind", ""), str(checkpoint))
    meta = metadata_from_checkpoint(ckpt, model, where=str(checkpoint))
    scenario = scenario_from_dict(ckpt["config"])
    seed = scenario.seed if opts.seed is None else opts.seed
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rnn_control_export_") as tmp:
        affine = command_affine(ckpt, model)
        raw = export_graph(model, meta, Path(tmp) / "raw.onnx", command_affine=affine)
        proto = onnx.load(str(raw))
        simplified = False
        if opts.simplify:
            proto, simplified = _maybe_simplified(proto, raw, Path(tmp), meta)
        candidate = save_model(proto, Path(tmp) / "candidate.onnx")
        if ckpt.get("parity_data") is not None:  # trained from bags: no env, replay recorded inputs
            figures, rollout = recorded_parity(model, candidate, ckpt["parity_data"], opts.parity_steps)
        else:
            figures, rollout = closed_loop_parity(
                model, candidate, scenario.env, opts.parity_steps, seed, progress=opts.progress,
                command_affine=affine,
            )
        worst = max(
            figures["max_abs_diff_output"], figures["max_abs_diff_state"], figures.get("max_abs_diff_std", 0)
        )
        if not worst <= opts.tolerance:
            raise BundleError(
                f"parity check FAILED for {checkpoint}: onnxruntime vs PyTorch max abs diff {worst:.3g} "
                f"(output {figures['max_abs_diff_output']:.3g}, state {figures['max_abs_diff_state']:.3g}) "
                f"> tolerance {opts.tolerance:g} over {figures['steps']} steps; bundle NOT written"
            )
        meta = dataclasses.replace(
            meta,
            parity={
                "torch_vs_onnxruntime": figures,
                "tolerance": opts.tolerance,
                "simplified": simplified,
                "exporter": f"torch.onnx.export(dynamo={DYNAMO}, opset={OPSET})",
                "torch": torch.__version__,
                "onnxruntime": onnxruntime.__version__,
            },
        )
        set_metadata(proto, meta)
        save_model(proto, output)
        result = ExportResult(output, meta)
        for name, enabled, convert, tol in (
            ("fp16", opts.fp16, to_fp16, opts.fp16_tolerance),
            ("int8", opts.int8, to_int8, opts.int8_tolerance),
        ):
            if enabled:
                path, figs = _variant(proto, meta, output, rollout, name, convert, tol, Path(tmp))
                result.variants[name], result.variant_parity[name] = path, figs
    return result


def _maybe_simplified(
    proto: onnx.ModelProto, raw: Path, tmp: Path, meta: BundleMetadata
) -> tuple[onnx.ModelProto, bool]:
    """The onnxslim graph if it is smaller and reproduces the raw graph's outputs."""
    slim = simplify(proto)
    if slim is None:
        return proto, False
    try:
        slim_path = save_model(slim, tmp / "slim.onnx")
        rng = np.random.default_rng(0)
        probe = Rollout(
            inputs=[rng.normal(0, 2, meta.obs_dim).astype(np.float32) for _ in range(64)],
            resets=[32],
            dts=[meta.control_period] * 64,
        )
        figs = replay_parity(raw, slim_path, probe)
    except BundleError as exc:
        log.warning("simplified graph rejected (%s); keeping the exported graph", exc)
        return proto, False
    if figs["max_abs_diff_output"] > 1e-6 or figs["max_abs_diff_state"] > 1e-6:
        log.warning(
            "simplified graph changes outputs by %.3g; keeping the exported graph",
            figs["max_abs_diff_output"],
        )
        return proto, False
    log.info("onnxslim: %d -> %d nodes", len(proto.graph.node), len(slim.graph.node))
    return slim, True


def _variant(
    proto: onnx.ModelProto,
    meta: BundleMetadata,
    output: Path,
    rollout: Rollout,
    name: str,
    convert,
    tol: float,
    tmp: Path,
) -> tuple[Path, dict[str, Any]]:
    try:
        var = convert(proto)
    except Exception as exc:
        raise BundleError(f"{name} conversion failed: {exc} (the fp32 bundle {output} was written)") from None
    tmp_path = save_model(var, tmp / f"{name}.onnx")
    figs = replay_parity(output, tmp_path, rollout)
    figs["tolerance"] = tol
    figs["ops"] = op_counts(var)
    if not figs["max_abs_diff_output"] <= tol:
        raise BundleError(
            f"{name} bundle differs from fp32 by {figs['max_abs_diff_output']:.3g} > tolerance {tol:g} over "
            f"{figs['steps']} replayed steps; {name} bundle NOT written (the fp32 bundle {output} was)"
        )
    vmeta = dataclasses.replace(meta, precision=name, parity={**meta.parity, "vs_fp32": figs})
    set_metadata(var, vmeta)
    path = output.with_name(f"{output.stem}.{name}.onnx")
    save_model(var, path)
    return path, figs
