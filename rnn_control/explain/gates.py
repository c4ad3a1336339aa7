"""Gate activations recomputed from a recurrent core's torch weights.

Given the input the core saw at every step and the state it started each step from (both
recorded by :func:`~rnn_control.explain.recording.record_episode`), the gates follow from the
cell equations (torch's conventions):

- GRU: ``r = s(W_ir x + b_ir + W_hr h + b_hr)`` (reset), ``z = s(W_iz x + ... )`` (update: how
  much of the old state is *kept*), ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``,
  ``h' = (1 - z) * n + z * h``
- LSTM: input ``i``, forget ``f``, cell candidate ``g``, output ``o``; ``c' = f c + i g``,
  ``h' = o tanh(c')``
- Elman RNN: no gates, the hidden units ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``
- time-aware GRU: a GRU cell per layer on ``[x, dt / nominal_dt]`` (first layer) from the
  decayed state ``h * exp(-softplus(rate) * dt)``

Layer ``l > 0`` takes layer ``l - 1``'s new hidden state as input. The recomputed new state is
compared with the recorded one (``reconstruction_error``), so a mismatch between these
equations and the model is caught instead of plotted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

GATE_NAMES: dict[str, tuple[str, ...]] = {
    "gru": ("update", "reset"),
    "tgru": ("update", "reset"),
    "lstm": ("input", "forget", "output"),
    "rnn": ("hidden",),
}


@dataclass
class GateTrace:
    """Gate activations over an episode: ``gates[name]`` is ``[T, layers, hidden]``."""

    cell: str
    gates: dict[str, np.ndarray] = field(default_factory=dict)
    hidden: np.ndarray | None = None  # [T, layers, hidden] new hidden state
    reconstruction_error: float = 0.0  # max |recomputed h' - recorded h'|

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean and fraction of saturated units (<0.05 or >0.95 for gates) per gate."""
        out = {}
        for name, g in self.gates.items():
            if name == "hidden":
                sat = float(np.mean(np.abs(g) > 0.95))
            else:
                sat = float(np.mean((g < 0.05) | (g > 0.95)))
            out[name] = {"mean": float(g.mean()), "std": float(g.std()), "saturated": sat}
        return out


def _w(module: nn.Module, name: str, rows: int) -> Tensor:
    p = getattr(module, name, None)
    return p.detach() if p is not None else torch.zeros(rows)


@torch.no_grad()
def gate_activations(
    core: nn.Module,
    core_inputs: np.ndarray,
    states_before: tuple[np.ndarray, ...],
    states_after: tuple[np.ndarray, ...],
    dts: np.ndarray | None = None,
) -> GateTrace:
    """Recompute the gates of ``core`` (a RecurrentCore) for a recorded episode.

    ``core_inputs [T, in]``: what the core received (normalised observations); states as
    ``[T, layers, hidden]`` tuples ``(h,)`` or ``(h, c)``.
    """
    cell = core.cell
    x = torch.as_tensor(core_inputs, dtype=torch.float32)
    h_prev_all = torch.as_tensor(states_before[0])
    h_rec = torch.as_tensor(states_after[0])
    trace = GateTrace(cell=cell, gates={n: [] for n in GATE_NAMES[cell]})
    new_h_layers = []
    inp = x
    for layer in range(core.num_layers):
        h_prev = h_prev_all[:, layer]
        if cell == "lstm":
            gates, h_new = _lstm_layer(
                core.rnn, layer, inp, h_prev, torch.as_tensor(states_before[1])[:, layer]
            )
        elif cell == "gru":
            rnn = core.rnn
            H = core.hidden_size
            gates, h_new = _gru(
                inp, h_prev,
                _w(rnn, f"weight_ih_l{layer}", 3 * H), _w(rnn, f"weight_hh_l{layer}", 3 * H),
                _w(rnn, f"bias_ih_l{layer}", 3 * H), _w(rnn, f"bias_hh_l{layer}", 3 * H),
            )  # fmt: skip
        elif cell == "tgru":
            gates, h_new = _tgru_layer(core, layer, inp, h_prev, dts)
        elif cell == "rnn":
            rnn = core.rnn
            H = core.hidden_size
            pre = inp @ _w(rnn, f"weight_ih_l{layer}", H).T + _w(rnn, f"bias_ih_l{layer}", H)
            pre = pre + h_prev @ _w(rnn, f"weight_hh_l{layer}", H).T + _w(rnn, f"bias_hh_l{layer}", H)
            h_new = torch.tanh(pre) if getattr(rnn, "nonlinearity", "tanh") == "tanh" else torch.relu(pre)
            gates = {"hidden": h_new}
        else:
            raise ValueError(f"explain: unsupported cell '{cell}'")
        for name in trace.gates:
            trace.gates[name].append(gates[name])
        new_h_layers.append(h_new)
        # The next layer sees this layer's *recorded* output (keeps layers independent of
        # small float differences in the recomputation).
        inp = h_rec[:, layer]
    trace.gates = {n: torch.stack(v, dim=1).numpy() for n, v in trace.gates.items()}
    h_new_all = torch.stack(new_h_layers, dim=1)
    trace.hidden = h_rec.numpy()
    trace.reconstruction_error = float((h_new_all - h_rec).abs().max())
    return trace


def _gru(x, h, w_ih, w_hh, b_ih, b_hh) -> tuple[dict[str, Tensor], Tensor]:
    gi = x @ w_ih.T + b_ih
    gh = h @ w_hh.T + b_hh
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return {"update": z, "reset": r}, (1 - z) * n + z * h


def _lstm_layer(rnn: nn.LSTM, layer: int, x, h, c) -> tuple[dict[str, Tensor], Tensor]:
    H = rnn.hidden_size
    g = x @ _w(rnn, f"weight_ih_l{layer}", 4 * H).T + _w(rnn, f"bias_ih_l{layer}", 4 * H)
    g = g + h @ _w(rnn, f"weight_hh_l{layer}", 4 * H).T + _w(rnn, f"bias_hh_l{layer}", 4 * H)
    i, f, gg, o = g.chunk(4, dim=-1)
    i, f, o, gg = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), torch.tanh(gg)
    c_new = f * c + i * gg
    return {"input": i, "forget": f, "output": o}, o * torch.tanh(c_new)


def _tgru_layer(core: nn.Module, layer: int, x, h, dts) -> tuple[dict[str, Tensor], Tensor]:
    tg = core.rnn  # TimeAwareGRU
    cellmod: nn.GRUCell = tg.cells[layer]
    dt = torch.as_tensor(
        dts if dts is not None else np.full(len(x), tg.nominal_dt), dtype=torch.float32
    ).reshape(-1, 1)
    if layer == 0:
        x = torch.cat([x, dt / tg.nominal_dt], dim=-1)
    rate = nn.functional.softplus(tg.decay_rate.detach()[layer])
    h = h * torch.exp(-rate * dt)
    rows = 3 * cellmod.hidden_size
    w_ih, w_hh = cellmod.weight_ih.detach(), cellmod.weight_hh.detach()
    return _gru(x, h, w_ih, w_hh, _w(cellmod, "bias_ih", rows), _w(cellmod, "bias_hh", rows))
