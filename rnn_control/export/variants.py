"""Graph rewrites of an exported bundle: simplification, fp16 and dynamic int8 quantisation.

Each takes and returns an ``onnx.ModelProto``; the metadata entry travels with the graph (the
caller updates ``precision`` and the parity figures).
"""

from __future__ import annotations

import contextlib
import copy
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

    proto = isolate_outputs(proto)
    with contextlib.redirect_stdout(io.StringIO()):
        return float16.convert_float_to_float16(proto, keep_io_types=True, disable_shape_infer=False)


def isolate_outputs(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Give every graph output that other nodes also read its own ``Identity`` node.

    The fp16 converter casts float32 outputs back at the graph boundary; a node that reads the
    output tensor inside the graph (the time-aware GRU's ``h_out``) would then get the float32
    tensor and the graph would no longer type-check.
    """
    proto = copy.deepcopy(proto)
    graph = proto.graph
    outputs = {o.name for o in graph.output}
    consumed = {name for node in graph.node for name in node.input} & outputs
    for name in consumed:
        inner = f"{name}__internal"
        for node in graph.node:
            node.output[:] = [inner if o == name else o for o in node.output]
            node.input[:] = [inner if i == name else i for i in node.input]
        graph.node.append(onnx.helper.make_node("Identity", [inner], [name], name=f"{name}__output"))
    return proto


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
