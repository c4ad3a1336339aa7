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


PLAN_INPUTS = ("obs", "h_in", "c_in", "first", "plan_obs", "plan_actions")
PLAN_OUTPUTS = ("actions", "h_out", "c_out", "plan_mean")


CANDIDATE_AXIS = {"plan_actions": 1, "plan_mean": 2}
"""The candidate axis of a planning graph's tensors: symbolic in the graph (``candidates``), so one
call may roll a slice of the ``batch`` candidates; ``planning_io`` gives the full batch."""


def planning_io(meta: BundleMetadata) -> tuple[Shapes, Shapes]:
    """``(inputs, outputs)`` of a planning bundle's graph (``meta.planning`` set).

    Inputs: ``obs [1, o + a]`` the last real observation and the command that followed it (the
    dynamics layout), ``h_in``/``c_in [layers, members, hidden]`` the filtered state before that
    pair, ``first [1, 1]`` (1: an episode starts, keep ``h_in``), ``plan_obs [1, o]`` the current
    observation, ``plan_actions [horizon, batch, a]`` the candidates (model units).
    Outputs: ``actions [members, o]`` each member's prediction of the current observation,
    ``h_out``/``c_out`` the state filtered on ``obs``, ``plan_mean [horizon, members, batch, o]``
    the predicted observations after each planned action (the imagined states are not returned).
    """
    plan = meta.planning
    if plan is None:
        raise ValueError("planning_io: the metadata has no planning section")
    o, a = meta.act_dim, len(plan.commands)
    state = (meta.num_layers, plan.members, meta.hidden_size)
    inputs: dict[str, tuple[int, ...]] = {"obs": (1, o + a), "h_in": state}
    outputs: dict[str, tuple[int, ...]] = {"actions": (plan.members, o), "h_out": state}
    if meta.is_lstm:
        inputs["c_in"], outputs["c_out"] = state, state
    inputs["first"] = (1, 1)
    inputs["plan_obs"] = (1, o)
    inputs["plan_actions"] = (plan.horizon, plan.batch, a)
    outputs["plan_mean"] = (plan.horizon, plan.members, plan.batch, o)
    return inputs, outputs
