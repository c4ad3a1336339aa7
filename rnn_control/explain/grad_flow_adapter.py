"""Bridge to the model library's gradient-flow diagnostic (``rnn_control.train.dynamics.grad_flow``).

Explain reports it beside the gates and the attribution: the norm of dLoss/dh_t against the
time lag says how far back a gradient can still teach a cell something, which bounds how far
back a trained policy *can* learn to look. The diagnostic is defined on dynamics models, so
it is run on fresh rnn / lstm / gru dynamics models of the policy's size on rollouts of the
same scenario, plus the trained dynamics model of the same run when there is one (the demo's
run folder: ``<run>/dynamics/checkpoint.pt`` beside ``<run>/policy/checkpoint.pt``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from rnn_control.scenario import Scenario

CELLS = ["rnn", "lstm", "gru"]


def gradient_flow_summary(
    scenario: Scenario,
    policy_source: Path | None,
    out_dir: Path,
    length: int = 60,
    batch: int = 16,
    episodes: int = 6,
    seed: int = 0,
) -> dict[str, Any] | None:
    """Table, PNG and per-step decay factors; ``None`` when this version has no diagnostic."""
    try:
        gf = importlib.import_module("rnn_control.train.dynamics.grad_flow")
    except ModuleNotFoundError as exc:
        if exc.name == "rnn_control.train.dynamics.grad_flow":
            return None
        raise
    from rnn_control.models import build_model
    from rnn_control.train.common.checkpoint import load_checkpoint
    from rnn_control.train.dynamics.rollouts import EpisodeDataset, collect_rollouts

    models, labels, data = [], [], None
    trained = policy_source.parent.parent / "dynamics" / "checkpoint.pt" if policy_source else None
    if trained is not None and trained.is_file():
        ckpt = load_checkpoint(trained, kind="dynamics")
        model = build_model(ckpt)
        if hasattr(model, "core"):
            models.append(model)
            labels.append(f"{model.core.cell} (trained dynamics)")
            if (trained.parent / "train.npz").is_file():
                data = EpisodeDataset.load(trained.parent / "train.npz")
    if data is None:
        data = collect_rollouts(scenario.env, episodes, scenario.dynamics.exploration, seed=seed)
    length = min(length, min(b - a for a, b in data.episode_bounds))
    fresh = gf.fresh_models(CELLS, data, scenario.model.hidden_size, scenario.model.num_layers, seed)
    models = fresh + models
    labels = [f"{c} (fresh)" for c in CELLS] + labels
    obs, act, next_obs = gf.sequences_from(data, length, batch, seed)
    results = [gf.gradient_flow(m, obs, act, next_obs, label) for m, label in zip(models, labels)]
    png = gf.plot(results, out_dir / "grad_flow.png", f"Gradient flow through time, {scenario.name}")
    ref = min(20, length - 1)
    decay = {r.label: r.decay_per_step(ref) for r in results}
    text = (
        f"Gradient flow (dLoss/dh_t vs lag, dynamics models of the policy's size on '{scenario.name}'):\n"
        + gf.table(results)
    )
    return {"png": str(png), "text": text, "decay_per_step": decay, "lag_for_decay": ref}
