"""Graph rewrites of an exported bundle: simplification, fp16 and dynamic int8 quantisation.

Each takes and returns an ``onnx.ModelProto``; the metadata entry travels with the graph (the
caller updates ``precision`` and the parity figures).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path

import onnx

log = logging.getLogger("rnn_control.export")


def simplify(proto: onnx.ModelProto) -> onnx.ModelProto | None:
    """``onnxslim`` simplification (constant folding, dead code); ``None`` if it failed or did
    not shrink the graph."""
    try:
        import onnxslim

        with contextlib.redirect_stdout(io.StringIO()):
            slim = onnxslim.slim(proto)
    except Exception as exc:  # the unsimplified graph is still a valid bundle
        log.warning("onnxslim failed (%s); keeping the unsimplified graph", exc)
        return None
    if slim is None or len(slim.graph.node) >= len(proto.graph.node):
        return None
    slim.metadata_props.extend(
        p for p in proto.metadata_props if p.key not in {q.key for q in slim.metadata_props}
    )
    return slim


def to_fp16(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Weights and compute in float16, inputs/outputs kept float32 (the runtime is unchanged)."""
    from onnxconverter_common import float16

    with contextlib.redirect_stdout(io.StringIO()):
        return float16.convert_float_to_float16(proto, keep_io_types=True, disable_shape_infer=False)


INT8_OPS = ["MatMul", "Gemm", "LSTM"]


def to_int8(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Dynamic quantisation (int8 weights, activations quantised on the fly) of MatMul/Gemm/LSTM.

    onnxruntime has no quantised GRU/RNN kernel: those cells stay float32, only the heads shrink.
    The graph is simplified first: quantisation needs weights as folded initializers.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    proto = simplify(proto) or proto
    with tempfile.TemporaryDirectory(prefix="rnn_control_int8_") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save_model(proto, str(src))
        logging.getLogger("root").setLevel(logging.ERROR)
        quantize_dynamic(src, dst, op_types_to_quantize=INT8_OPS, weight_type=QuantType.QInt8)
        out = onnx.load(str(dst))
    keys = {p.key for p in out.metadata_props}
    out.metadata_props.extend(p for p in proto.metadata_props if p.key not in keys)
    return out


def op_counts(proto: onnx.ModelProto) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in proto.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts
