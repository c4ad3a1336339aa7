"""Open an ONNX bundle with onnxruntime and check it follows the tensor-name convention.

Execution providers: ``providers="auto"`` picks TensorRT, then CUDA, then CPU from what the
installed onnxruntime offers; an explicit request (``"cuda"``, ``["tensorrt", "cpu"]``, full
provider names) is honoured where available and falls back to CPU otherwise. One log line on the
``rnn_control.runtime`` logger says which provider runs the model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from rnn_control.contract.metadata import METADATA_KEY, STATELESS_CELL, BundleMetadata, metadata_from_json
from rnn_control.contract.sidecar import find_sidecar, load_sidecar
from rnn_control.contract.tensors import graph_io
from rnn_control.errors import BundleError

log = logging.getLogger("rnn_control.runtime")

PROVIDER_ALIASES = {
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "gpu": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
CPU = "CPUExecutionProvider"

ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


def select_providers(
    requested: str | Sequence[str] = "auto", available: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """Providers to ask onnxruntime for, and the requested ones that are not available.

    The CPU provider always closes the list (the fallback).
    """
    available = list(ort.get_available_providers() if available is None else available)
    if isinstance(requested, str):
        requested = [p.strip() for p in requested.split(",") if p.strip()]
    wanted: list[str] = []
    for name in requested:
        if name.lower() == "auto":
            wanted += [p for p in PREFERENCE if p in available]
            continue
        full = PROVIDER_ALIASES.get(name.lower(), name)
        if not full.endswith("ExecutionProvider"):
            choices = ", ".join(["auto", *PROVIDER_ALIASES])
            raise BundleError(f"unknown execution provider {name!r}; choose from {choices} or a full name")
        wanted.append(full)
    missing = [p for p in wanted if p not in available]
    chosen = [p for p in dict.fromkeys(wanted) if p in available]
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen, missing


def tensorrt_options(cache_dir: str | Path, fp16: bool = False) -> dict[str, dict[str, Any]]:
    """``provider_options`` for TensorRT with an on-disk engine cache (engine builds take minutes
    on a Jetson; with the cache only the first start pays), optionally in fp16."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return {
        "TensorrtExecutionProvider": {
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache_dir),
            "trt_fp16_enable": fp16,
        }
    }


def session_options(intra_op_threads: int = 1) -> ort.SessionOptions:
    """Options for small recurrent models: sequential, ``intra_op_threads`` threads (1: least jitter)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # onnxruntime's own warnings are noise for users
    return opts


def open_session(
    path: str | Path,
    providers: str | Sequence[str] = "auto",
    intra_op_threads: int = 1,
    provider_options: dict[str, dict[str, Any]] | None = None,
) -> tuple[ort.InferenceSession, str]:
    """An onnxruntime session for ``path`` and the provider that actually runs it."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: no such bundle file")
    chosen, missing = select_providers(providers)
    options = provider_options or {}
    plist = [(p, options[p]) if p in options else p for p in chosen]
    try:
        data = path.read_bytes()
        if not data:
            raise BundleError(f"{path}: file is empty, expected an ONNX model")
        session = ort.InferenceSession(data, sess_options=session_options(intra_op_threads), providers=plist)
    except BundleError:
        raise
    except Exception as exc:  # onnxruntime raises several pybind types for corrupt files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(
            f"{path}: not a loadable ONNX model (truncated, corrupt or another format): {first[:300]}"
        ) from None
    used = session.get_providers()[0]
    if missing:
        log.warning(
            "%s: execution provider(s) %s not available in this onnxruntime (offers %s); running on %s",
            path.name,
            ", ".join(missing),
            ", ".join(ort.get_available_providers()),
            used,
        )
    log.info("%s: running on %s (asked: %s)", path.name, used, providers)
    return session, used


def metadata_for_session(
    session: ort.InferenceSession, path: str | Path, sidecar: str | Path | None = None
) -> BundleMetadata:
    """Metadata stored in the bundle, or built from a YAML sidecar for foreign bundles.

    An explicit ``sidecar`` wins over embedded metadata (to re-map IO without re-exporting).
    """
    path = Path(path)
    if sidecar is not None and not Path(sidecar).is_file():
        raise BundleError(f"{sidecar}: no such sidecar file")
    if sidecar is None:
        text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if text is not None:
            return metadata_from_json(text, where=f"{path}: metadata")
        sidecar = find_sidecar(path)
        if sidecar is None:
            raise BundleError(
                f"{path}: has no '{METADATA_KEY}' metadata and no YAML sidecar "
                f"({path.with_suffix('.yaml').name}); export it with 'rnn-control export' or write a "
                "sidecar describing observation/action fields and control_period (see README)"
            )
    return load_sidecar(sidecar, infer_layout(session))


def read_bundle_metadata(path: str | Path, sidecar: str | Path | None = None) -> BundleMetadata:
    """The validated metadata of a bundle file (embedded, or from its YAML sidecar)."""
    session, _ = open_session(path, providers="cpu")
    return metadata_for_session(session, path, sidecar)


def infer_layout(session: ort.InferenceSession) -> dict[str, Any]:
    """Cell and sizes read off a graph's inputs (for sidecar bundles)."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    out: dict[str, Any] = {"cell": STATELESS_CELL, "num_layers": 0, "hidden_size": 0}
    if "h_in" in inputs:
        shape = inputs["h_in"].shape
        out["cell"] = "lstm" if "c_in" in inputs else "gru"
        if len(shape) == 3 and isinstance(shape[0], int) and isinstance(shape[2], int):
            out["num_layers"], out["hidden_size"] = shape[0], shape[2]
    if "dt" in inputs:
        out["cell"], out["time_aware"] = "tgru", True
    out["has_std"] = "std" in outputs
    return out


@dataclass
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: type


def check_io(session: ort.InferenceSession, meta: BundleMetadata, path: str | Path) -> dict[str, TensorSpec]:
    """Check the graph's inputs/outputs against the convention and the metadata.

    Returns the concrete spec of every tensor the stepper binds (batch 1).
    """
    path = Path(path)
    L, H = meta.num_layers, meta.hidden_size
    want_in, want_out = graph_io(meta)
    specs: dict[str, TensorSpec] = {}
    for what, args, want in (
        ("input", session.get_inputs(), want_in),
        ("output", session.get_outputs(), want_out),
    ):
        found = {a.name: a for a in args}
        unexpected = sorted(set(found) - set(want))
        if what == "output":  # extra outputs are harmless, we just do not bind them
            unexpected = []
        missing = sorted(set(want) - set(found))
        if missing or unexpected:
            raise BundleError(
                f"{path}: graph {what}s {sorted(found)} do not follow the convention for a "
                f"{meta.cell} {meta.kind} bundle: expected {sorted(want)}"
                + (f", missing {missing}" if missing else "")
                + (f", unexpected {unexpected}" if unexpected else "")
            )
        for name, shape in want.items():
            arg = found[name]
            got = tuple(arg.shape)
            ok = len(got) == len(shape) and all(not isinstance(g, int) or g == s for g, s in zip(got, shape))
            if not ok:
                raise BundleError(
                    f"{path}: {what} tensor '{name}' has shape {list(got)}, expected {list(shape)} "
                    f"(from metadata: obs_dim={meta.obs_dim}, act_dim={meta.act_dim}, "
                    f"layers={L}, hidden={H})"
                )
            dtype = ONNX_DTYPES.get(arg.type)
            if dtype is None:
                raise BundleError(
                    f"{path}: {what} tensor '{name}' has type {arg.type}, expected tensor(float)"
                )
            specs[name] = TensorSpec(name, shape, dtype)
    return specs
