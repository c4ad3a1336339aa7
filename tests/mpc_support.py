"""Test fixtures for MPC: dynamics checkpoints with random (untrained) weights, planning bundles.

``dynamics_checkpoint(tmp_path, cell="gru", ...)`` writes a checkpoint of a
``RecurrentDynamicsModel`` (or an ensemble) for a shipped scenario with fitted normalisers, in
seconds (no training); ``planning_bundle(...)`` exports it as a planning bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rnn_control.models.registry import MODEL_CLASSES
from rnn_control.scenario import load_scenario
from rnn_control.train.common.checkpoint import save_checkpoint
from rnn_control.train.dynamics.rollouts import box_spaces, collect_rollouts
from rnn_control.train.dynamics.trainer import model_spec


def dynamics_checkpoint(
    tmp_path: Path,
    scenario: str = "pendulum_novel",
    cell: str = "gru",
    hidden: int = 16,
    layers: int = 1,
    head_hidden: list[int] | None = None,
    members: int = 1,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """A dynamics checkpoint with random weights and normalisers fitted on a few random episodes."""
    over = {"model": {"cell": cell, "hidden_size": hidden, "num_layers": layers, "head_hidden": head_hidden}}
    if members > 1:
        over["dynamics"] = {"ensemble": members}
    sc = load_scenario(scenario, {**over, **(overrides or {})})
    spaces, period = box_spaces(sc.env)
    data = collect_rollouts(sc.env, 2, "random", seed=seed, num_envs=1)
    cls, kwargs = model_spec(sc, data.obs_dim, data.act_dim)
    torch.manual_seed(seed)
    model = MODEL_CLASSES[cls](**kwargs)
    model.fit_normalizers(*(torch.as_tensor(x) for x in (data.obs, data.act, data.next_obs)))
    path = tmp_path / f"dyn-{cell}-{hidden}x{layers}-e{members}.pt"
    save_checkpoint(path, {
        "kind": "dynamics", "config": sc.to_dict(), "model_class": cls, "model_kwargs": kwargs,
        "model_state": model.state_dict(), "spaces": spaces, "control_period": period or 0.05, "step": 0,
    })  # fmt: skip
    return path


def planning_bundle(tmp_path: Path, batch: int = 64, horizon: int = 10, graph: str = "unrolled",
                    **kwargs: Any) -> Path:  # fmt: skip
    """A planning bundle of :func:`dynamics_checkpoint` (parity-checked like any export)."""
    from rnn_control.export.planning import PlanningExportOptions, export_planning

    ckpt = dynamics_checkpoint(tmp_path, **kwargs)
    out = ckpt.with_suffix(f".plan{batch}x{horizon}{graph}.onnx")
    export_planning(
        ckpt, out, PlanningExportOptions(batch=batch, horizon=horizon, graph=graph, parity_ticks=6)
    )
    return out
