"""Tensor names and shapes of a bundle's graph (the rsl_rl / Isaac Lab convention).

Inputs ``obs [1, obs_dim]``, ``h_in [layers, 1, hidden]``, ``c_in`` (LSTM only), ``dt [1, 1]``
(time-aware cells); outputs ``actions [1, act_dim]``, ``h_out``, ``c_out``, ``std`` (dynamics
bundles that predict one). The exporter writes exactly these; the runtime binds exactly these.
"""

from __future__ import annotations

from rnn_control.contract.metadata import BundleMetadata

INPUT_NAMES = ("obs", "h_in", "c_in", "dt")
OUTPUT_NAMES = ("actions", "h_out", "c_out", "std")
STATE_PAIRS = (("h_in", "h_out"), ("c_in", "c_out"))
"""Recurrent state: each input and the output that carries its next value."""


Shapes = dict[str, tuple[int, ...]]


def graph_io(meta: BundleMetadata, batch: int = 1) -> tuple[Shapes, Shapes]:
    """``(inputs, outputs)``: name -> shape of every tensor a bundle with ``meta`` must have."""
    state = (meta.num_layers, batch, meta.hidden_size)
    inputs: dict[str, tuple[int, ...]] = {"obs": (batch, meta.obs_dim)}
    outputs: dict[str, tuple[int, ...]] = {"actions": (batch, meta.act_dim)}
    if meta.stateful:
        inputs["h_in"], outputs["h_out"] = state, state
        if meta.is_lstm:
            inputs["c_in"], outputs["c_out"] = state, state
    if meta.time_aware:
        inputs["dt"] = (batch, 1)
    if meta.has_std:
        outputs["std"] = (batch, meta.act_dim)
    return inputs, outputs
