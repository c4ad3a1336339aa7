"""The planning graph of a recurrent dynamics model (or an ensemble), written node by node.

One call filters the recurrent state on the last real (observation, command) pair, broadcasts the
filtered state to ``batch`` candidates and rolls every candidate action sequence ``horizon`` steps
through every member, each step fed the previous prediction (PlaNet-style: the imagined states
never leave the graph). Tensor names and shapes: :func:`rnn_control.contract.tensors.planning_io`.

The graph is built from the weights (numpy) rather than traced, so each step is a handful of
large operations: one ``[batch, hidden + in] x [hidden + in, hidden]`` product per gate (which
onnxruntime fuses with the gate's sigmoid/tanh), the recurrent part of the GRU's candidate gate,
a few element-wise operations on ``[batch, hidden]`` and the head. An ensemble batches its members
in 3-D products (``[members, batch, .]``). ``graph="unrolled"`` spells out every step;
``graph="loop"`` runs one step body in an ONNX ``Loop`` (smaller file, one subgraph call per step).
The candidate axis is symbolic (``candidates``): one call may roll any number of candidates, so a
runtime can split the batch over threads (:class:`~rnn_control.runtime.planning.PlanningModel`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from rnn_control.contract.metadata import BundleMetadata
from rnn_control.contract.tensors import CANDIDATE_AXIS, planning_io

GATES = {"gru": 3, "lstm": 4, "rnn": 1}


@dataclass
class MemberWeights:
    """One dynamics model as arrays: normalisers, recurrent layers (PyTorch gate order) and head."""

    cell: str
    layers: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]  # W_ih, W_hh, b_ih, b_hh
    head: list[tuple[np.ndarray, np.ndarray]]  # Linear (W [out, in], b) layers, tanh between
    obs_mean: np.ndarray
    obs_sd: np.ndarray
    act_mean: np.ndarray
    act_sd: np.ndarray
    clip: float
    delta_mean: np.ndarray
    delta_scale: np.ndarray  # sqrt(var + eps) * active

    @property
    def hidden(self) -> int:
        """Hidden size of the recurrent layers."""
        return self.layers[0][1].shape[1]


@dataclass
class _Graph:
    """Nodes and initialisers under construction, with generated names."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    count: int = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value: Any, hint: str = "c", dtype: Any = np.float32) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.array(value, dtype=dtype, order="C"), name))
        return name

    def ints(self, values: list[int], hint: str = "i") -> str:
        return self.const(np.array(values, dtype=np.int64), hint, np.int64)

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attrs: Any) -> Any:
        names = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else names


class _Builder:
    """Emits the operations of the members' cells, batched 2-D (one member) or 3-D (an ensemble)."""

    def __init__(self, g: _Graph, members: list[MemberWeights]) -> None:
        self.g, self.members = g, members
        self.ensemble = len(members) > 1
        self.cell = members[0].cell
        self.hidden = members[0].hidden
        self._consts: dict[str, str] = {}
        m = members[0]
        self.lo, self.hi = g.const(-m.clip, "lo"), g.const(m.clip, "hi")

    def stacked(self, key: str, get: Any, matrix: bool = False) -> str:
        """A per-member constant: ``[dim]`` / ``[in, out]`` for one member, ``[E, 1, dim]`` /
        ``[E, in, out]`` for an ensemble (built once per key)."""
        if key not in self._consts:
            arrays = [np.asarray(get(m), dtype=np.float32) for m in self.members]
            if not self.ensemble:
                value = arrays[0]
            else:
                value = np.stack(arrays) if matrix else np.stack(arrays)[:, None, :]
            self._consts[key] = self.g.const(value, key.split("/")[0])
        return self._consts[key]

    def linear(self, x: str, key: str, weight: Any, bias: Any) -> str:
        """``x @ weight(member) + bias(member)`` (weight given as ``[in, out]``)."""
        w = self.stacked(f"{key}/w", weight, matrix=True)
        b = self.stacked(f"{key}/b", bias)
        if not self.ensemble:
            return self.g.op("Gemm", x, w, b)
        return self.g.op("Add", self.g.op("MatMul", x, w), b)

    def normalise(self, x: str, kind: str, affine: bool = False) -> str:
        """``clip((x - mean) / sd)``; ``affine``: as one product ``x @ diag(1 / sd) - mean / sd``
        (what the hot loop uses: element-wise ops that broadcast a short last axis are slow)."""
        g = self.g
        if affine:
            y = self.linear(
                x, f"{kind}_affine",
                lambda m: np.diag(1.0 / getattr(m, f"{kind}_sd")),
                lambda m: -getattr(m, f"{kind}_mean") / getattr(m, f"{kind}_sd"),
            )  # fmt: skip
            return g.op("Clip", y, self.lo, self.hi)
        mean = self.stacked(f"{kind}_mean", lambda m: getattr(m, f"{kind}_mean"))
        sd = self.stacked(f"{kind}_sd", lambda m: getattr(m, f"{kind}_sd"))
        return g.op("Clip", g.op("Div", g.op("Sub", x, mean), sd), self.lo, self.hi)

    def cell_step(self, layer: int, h: str, c: str | None, inputs: list[str]) -> tuple[str, str | None]:
        """One recurrent layer: ``inputs`` (the layer's input parts) and state -> new state."""
        g, hd = self.g, self.hidden
        xt = g.op("Concat", h, *inputs, axis=-1)
        x_only = inputs[0] if len(inputs) == 1 else g.op("Concat", *inputs, axis=-1)

        def rows(k: int):  # gate k of [W_hh | W_ih] as [hidden + in, hidden]
            def get(m: MemberWeights) -> np.ndarray:
                w_ih, w_hh = m.layers[layer][0], m.layers[layer][1]
                return np.concatenate([w_hh[k * hd : (k + 1) * hd].T, w_ih[k * hd : (k + 1) * hd].T])

            return get

        def bias(k: int, both: bool = True):
            def get(m: MemberWeights) -> np.ndarray:
                b_ih, b_hh = m.layers[layer][2], m.layers[layer][3]
                sl = slice(k * hd, (k + 1) * hd)
                return b_ih[sl] + b_hh[sl] if both else b_ih[sl]

            return get

        def gate(k: int, act: str) -> str:
            return g.op(act, self.linear(xt, f"l{layer}g{k}", rows(k), bias(k)))

        if self.cell == "rnn":
            return gate(0, "Tanh"), None
        if self.cell == "lstm":
            i, f, cand, o = gate(0, "Sigmoid"), gate(1, "Sigmoid"), gate(2, "Tanh"), gate(3, "Sigmoid")
            c_new = g.op("Add", g.op("Mul", f, c), g.op("Mul", i, cand))
            return g.op("Mul", o, g.op("Tanh", c_new)), c_new
        r, z = gate(0, "Sigmoid"), gate(1, "Sigmoid")
        ghn = self.linear(
            h, f"l{layer}hn",
            lambda m: m.layers[layer][1][2 * hd :].T, lambda m: m.layers[layer][3][2 * hd :],
        )  # fmt: skip
        gin = self.linear(
            x_only, f"l{layer}in", lambda m: m.layers[layer][0][2 * hd :].T, bias(2, both=False)
        )
        n = g.op("Tanh", g.op("Add", gin, g.op("Mul", r, ghn)))
        return g.op("Add", n, g.op("Mul", z, g.op("Sub", h, n))), None

    def predict(self, top: str, obs: str, obs_dim: int) -> str:
        """Head on the top layer's output -> next observation (raw units), as the model's to_raw."""
        g, x = self.g, top
        head = self.members[0].head
        for j in range(len(head) - 1):
            x = g.op(
                "Tanh", self.linear(x, f"head{j}", lambda m, j=j: m.head[j][0].T, lambda m, j=j: m.head[j][1])
            )
        last = len(head) - 1

        def weight(m: MemberWeights) -> np.ndarray:  # the mean rows, scaled to raw units
            return (m.head[last][0][:obs_dim] * m.delta_scale[:, None]).T

        def bias(m: MemberWeights) -> np.ndarray:
            return m.head[last][1][:obs_dim] * m.delta_scale + m.delta_mean

        return g.op("Add", obs, self.linear(x, f"head{last}", weight, bias))

    def step(self, hs: list[str], cs: list[str | None], obs: str, act_n: str, obs_dim: int):
        """One model step on raw ``obs`` and normalised ``act_n``: new states and the prediction."""
        x = [self.normalise(obs, "obs", affine=True), act_n]
        new_h, new_c = [], []
        for layer, (h, c) in enumerate(zip(hs, cs)):
            h2, c2 = self.cell_step(layer, h, c, x)
            new_h.append(h2)
            new_c.append(c2)
            x = [h2]
        return new_h, new_c, self.predict(new_h[-1], obs, obs_dim)


def build_planning_graph(
    members: list[MemberWeights], meta: BundleMetadata, opset: int = 18
) -> onnx.ModelProto:
    """The planning graph for ``meta`` (its ``planning`` section set) from the members' weights."""
    plan = meta.planning
    assert plan is not None and len(members) == plan.members
    ins, outs = planning_io(meta)
    g = _Graph()
    b = _Builder(g, members)
    E, H, L = plan.members, plan.horizon, meta.num_layers
    o, a = meta.act_dim, len(plan.commands)
    lstm = meta.is_lstm
    # --- filter: state after the last real pair (kept as h_in where first == 1)
    prev_obs = g.op("Slice", "obs", g.ints([0]), g.ints([o]), g.ints([1]))
    prev_act = g.op("Slice", "obs", g.ints([o]), g.ints([o + a]), g.ints([1]))

    def per_member(x: str) -> str:  # [1, d] -> [E, 1, d] for an ensemble
        return g.op("Expand", g.op("Unsqueeze", x, g.ints([0])), g.ints([E, 1, 1])) if b.ensemble else x

    def layer_state(name: str, layer: int) -> str:  # [L, E, Hd] -> [1, Hd] or [E, 1, Hd]
        s = g.op("Gather", name, g.ints([layer]), axis=0)  # [1, E, Hd]
        return g.op("Transpose", s, perm=[1, 0, 2]) if b.ensemble else g.op("Squeeze", s, g.ints([0]))

    h_in = [layer_state("h_in", i) for i in range(L)]
    c_in = [layer_state("c_in", i) for i in range(L)] if lstm else [None] * L
    f_h, f_c, f_pred = b.step(h_in, c_in, per_member(prev_obs), b.normalise(per_member(prev_act), "act"), o)

    def keep_first(new: str, old: str) -> str:  # first == 1: the old state
        return g.op("Add", new, g.op("Mul", "first", g.op("Sub", old, new)))

    h_f = [keep_first(n, old) for n, old in zip(f_h, h_in)]
    c_f = [keep_first(n, old) for n, old in zip(f_c, c_in)] if lstm else [None] * L

    def to_state(parts: list[str], out: str) -> None:  # per-layer [1, Hd] / [E, 1, Hd] -> [L, E, Hd]
        ups = [g.op("Transpose", p, perm=[1, 0, 2]) if b.ensemble else g.op("Unsqueeze", p, g.ints([0]))
               for p in parts]  # fmt: skip
        g.nodes.append(helper.make_node("Concat", ups, [out], axis=0))

    to_state(h_f, "h_out")
    if lstm:
        to_state(c_f, "c_out")
    g.nodes.append(helper.make_node("Reshape", [f_pred, g.ints([E, o])], ["actions"]))
    # --- rollout: the filtered state broadcast to every candidate. The candidate count comes from
    # plan_actions (a symbolic axis), so a runtime may roll a slice of the batch per call.
    count = g.op("Shape", "plan_actions", start=1, end=2)  # [N]
    shape = g.op("Concat", *([g.ints([E]), count] if b.ensemble else [count]), g.ints([1]), axis=0)
    roll_h = [g.op("Expand", h, shape) for h in h_f]
    roll_c = [g.op("Expand", c, shape) for c in c_f] if lstm else [None] * L
    obs0 = g.op("Expand", per_member("plan_obs"), shape)
    # normalised candidates: [H, N, a], or [H, E, N, a] with each member's normaliser
    acts = b.normalise(
        g.op("Unsqueeze", "plan_actions", g.ints([1])) if b.ensemble else "plan_actions", "act"
    )
    if plan.graph == "loop":
        _loop(g, b, acts, roll_h, roll_c, obs0, meta)
    else:
        pieces = g.op("Split", acts, axis=0, num_outputs=H, outputs=H) if H > 1 else [acts]
        hs, cs, obs, preds = roll_h, roll_c, obs0, []
        for t in range(H):
            act_t = g.op("Squeeze", pieces[t], g.ints([0]))  # [N, a] or [E, N, a]
            hs, cs, obs = b.step(hs, cs, obs, act_t, o)
            preds.append(g.op("Unsqueeze", obs, g.ints([0] if b.ensemble else [0, 1])))
        g.nodes.append(helper.make_node("Concat", preds, ["plan_mean"], axis=0))

    def value_info(name: str, shape: tuple[int, ...]) -> onnx.ValueInfoProto:
        dims: list[int | str] = list(shape)
        if name in CANDIDATE_AXIS:
            dims[CANDIDATE_AXIS[name]] = "candidates"
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)

    graph = helper.make_graph(
        g.nodes, "rnn_control_planning", [value_info(k, v) for k, v in ins.items()],
        [value_info(k, v) for k, v in outs.items()], g.inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 10)
    return model


def _loop(g: _Graph, b: _Builder, acts: str, hs: list, cs: list, obs0: str, meta: BundleMetadata) -> None:
    """``plan_mean`` from an ONNX Loop over the horizon (one step body, state loop-carried)."""
    plan = meta.planning
    o = meta.act_dim
    lstm = meta.is_lstm
    outer = g.nodes
    g.nodes = []
    it, cond = "loop_iter", "loop_cond_in"
    carried_h = [f"loop_h{i}" for i in range(len(hs))]
    carried_c = [f"loop_c{i}" for i in range(len(cs))] if lstm else []
    act_t = g.op("Gather", acts, it, axis=0)  # [N, a] or [E, N, a] (an outer-scope tensor)
    new_h, new_c, pred = b.step(carried_h, carried_c or [None] * len(hs), "loop_obs", act_t, o)
    body_out = [g.op("Identity", cond)] + [g.op("Identity", x) for x in new_h]
    body_out += [g.op("Identity", x) for x in new_c] if lstm else []
    body_out += [g.op("Identity", pred), g.op("Identity", pred)]
    any_float = helper.make_tensor_value_info
    body_inputs = [any_float(it, TensorProto.INT64, []), any_float(cond, TensorProto.BOOL, [])]
    body_inputs += [any_float(n, TensorProto.FLOAT, None) for n in [*carried_h, *carried_c, "loop_obs"]]
    body_outputs = [any_float(body_out[0], TensorProto.BOOL, [])]
    body_outputs += [any_float(n, TensorProto.FLOAT, None) for n in body_out[1:]]
    body = helper.make_graph(g.nodes, "rnn_control_planning_step", body_inputs, body_outputs)
    g.nodes = outer
    trips = g.const(np.array(plan.horizon, dtype=np.int64), "trips", np.int64)
    go = g.const(np.array(True), "go", np.bool_)
    states = [*hs, *(cs if lstm else [])]
    finals = [g.name("final") for _ in range(len(states) + 1)]
    scan = g.name("scan")  # [H, N, o] or [H, E, N, o]
    g.nodes.append(helper.make_node("Loop", [trips, go, *states, obs0], [*finals, scan], body=body))
    if b.ensemble:
        g.nodes.append(helper.make_node("Identity", [scan], ["plan_mean"]))
    else:
        g.nodes.append(helper.make_node("Unsqueeze", [scan, g.ints([1])], ["plan_mean"]))
