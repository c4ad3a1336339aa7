"""The explain report's use of the gradient-flow diagnostic (``rnn_control.train.dynamics.grad_flow``).

Explain reports it beside the gates and the attribution: the norm of dLoss/dh_t against the
time lag says how far back a gradient can still teach a cell something, which bounds how far
back a trained policy *can* learn to look. The diagnostic is defined on dynamics models, so
it is run on fresh rnn / lstm / gru dynamics models of the policy's size on rollouts of the
same scenario, plus the trained dynamics model of the same run when there is one (the demo's
run folder: ``<run>/dynamics/checkpoint.pt`` beside ``<run>/policy/checkpoint.pt``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from rnn_control.scenario import Scenario
from rnn_control.train.dynamics import grad_flow as gf

CELLS = ["rnn", "lstm", "gru"]


def gradient_flow_summary(
    scenario: Scenario,
    policy_source: Path | None,
    out_dir: Path,
    length: int = 60,
    batch: int = 16,
    episodes: int = 6,
    seed: int = 0,
) -> dict[str, Any]:
    """Table, PNG and per-step decay factors of fresh models (and the run's trained dynamics model)."""
    trained: list[gf.TrainedModel] = []
    path = policy_source.parent.parent / "dynamics" / "checkpoint.pt" if policy_source else None
    if path is not None and path.is_file():
        with contextlib.suppress(gf.NoRecurrentCore):  # a window-MLP dynamics model: fresh ones only
            trained.append(gf.load_trained(path, label="{cell} (trained dynamics)"))
    data = trained[0].data if trained and trained[0].data is not None else None
    if data is None:
        data = gf.scenario_rollouts(scenario, episodes, seed)
    length = min(length, min(b - a for a, b in data.episode_bounds))
    fresh = gf.fresh_models(CELLS, data, scenario.model.hidden_size, scenario.model.num_layers, seed)
    models = fresh + [t.model for t in trained]
    labels = [f"{c} (fresh)" for c in CELLS] + [t.label for t in trained]
    results = gf.measure(models, labels, data, length, batch, seed)
    png = gf.plot(results, out_dir / "grad_flow.png", f"Gradient flow through time, {scenario.name}")
    ref = min(20, length - 1)
    decay = {r.label: r.decay_per_step(ref) for r in results}
    text = (
        f"Gradient flow (dLoss/dh_t vs lag, dynamics models of the policy's size on '{scenario.name}'):\n"
        + gf.table(results)
    )
    return {"png": str(png), "text": text, "decay_per_step": decay, "lag_for_decay": ref}
