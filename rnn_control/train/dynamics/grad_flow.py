"""Gradient-flow diagnostic: how much of the loss gradient reaches the hidden state ``lag`` steps back.

The model is run one step at a time (the core's ``step`` path) so every hidden state ``h_t`` is
a separate tensor; ``retain_grad()`` keeps ``dL/dh_t`` after ``backward()``. The loss is the
squared error of the *last* prediction of each sequence, so ``||dL/dh_{T-1-lag}||`` says how
strongly an input ``lag`` steps in the past can still be credited. With an Elman RNN it
typically shrinks geometrically (vanishing gradient); the gates of the LSTM and GRU keep a path
open. The table gives the norm relative to lag 0, averaged over the batch.

The one implementation: ``rnn-control grad-flow`` and the explain report are callers of
:func:`load_trained`, :func:`fresh_models`, :func:`measure`, :func:`table` and :func:`plot`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnn_control.errors import ConfigError
from rnn_control.models.build import build_model
from rnn_control.models.dynamics import RecurrentDynamicsModel
from rnn_control.scenario import Scenario, scenario_from_dict
from rnn_control.train.common.checkpoint import load_checkpoint
from rnn_control.train.common.progress import Progress
from rnn_control.train.dynamics.rollouts import EpisodeDataset, collect_rollouts
from rnn_control.train.dynamics.sequences import heldout_windows

REPORT_LAGS = (0, 1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200)


@dataclass
class GradFlow:
    """``norms[lag]``: batch mean of ``||dL/dstate_{T-1-lag}||`` (all layers; h, and c for an LSTM)."""

    label: str
    norms: np.ndarray

    @property
    def relative(self) -> np.ndarray:
        """``norms`` divided by the norm at lag 0."""
        return self.norms / max(float(self.norms[0]), 1e-30)

    def decay_per_step(self, lag: int) -> float:
        """Geometric-mean factor by which the gradient shrinks per step of lag, up to ``lag``."""
        r = float(self.relative[lag])
        return r ** (1.0 / lag) if r > 0 else 0.0


def sequences_from(data: EpisodeDataset, length: int, batch_size: int, seed: int = 0) -> tuple:
    """``batch_size`` windows of ``length`` steps that lie inside single episodes: (obs, act, next_obs)."""
    first = heldout_windows(data, length - 1, 1, stride=1)
    if first.size == 0:
        raise ValueError(f"grad-flow: no episode has {length} steps; use a shorter --length")
    rng = np.random.default_rng(seed)
    first = torch.as_tensor(rng.choice(first, size=batch_size, replace=first.size < batch_size))
    idx = first.unsqueeze(0) + torch.arange(length).unsqueeze(1)
    return tuple(
        torch.as_tensor(getattr(data, f), dtype=torch.float32)[idx] for f in ("obs", "act", "next_obs")
    )


def gradient_flow(
    model: RecurrentDynamicsModel,
    obs: torch.Tensor,
    act: torch.Tensor,
    next_obs: torch.Tensor,
    label: str = "",
) -> GradFlow:
    """``||dL/dh_t||`` for every ``t`` of sequences ``[T, B, ...]``; L = error of the last prediction."""
    model.eval()
    x = model.normalize_input(obs, act)
    state = model.initial_state(x.shape[1])
    hidden = []
    for t in range(x.shape[0]):
        _, state = model.core.step(x[t], state)
        for s in state:
            s.retain_grad()
        hidden.append(state)
    top = state[0][-1]  # top-layer h_{T-1}: the features the head reads
    mean, _ = model.head(top).chunk(2, dim=-1)
    target = model.target(obs[-1], next_obs[-1])
    loss = (mean - target).pow(2).mean(-1).sum()  # per-sequence losses, summed: per-row gradients
    loss.backward()
    norms = [_state_grad_norm(st) for st in hidden]
    return GradFlow(label or model.core.cell, np.asarray(norms[::-1]))


def _state_grad_norm(state: tuple[torch.Tensor, ...]) -> float:
    """Batch mean of the norm of the gradient w.r.t. the whole state (h, and c for an LSTM)."""
    grads = [torch.zeros_like(s) if s.grad is None else s.grad for s in state]  # c_T: unused by the loss
    g = torch.cat([x.permute(1, 0, 2).reshape(x.shape[1], -1) for x in grads], dim=-1)
    return g.norm(dim=-1).mean().item()


def table(results: list[GradFlow]) -> str:
    """Relative gradient norm by lag, one column per model, plus the per-step decay factor."""
    max_lag = min(len(r.norms) for r in results) - 1
    lags = [lag for lag in REPORT_LAGS if lag <= max_lag]
    width = max(10, *(len(r.label) + 2 for r in results))
    lines = [f"{'lag':>5}" + "".join(f"{r.label:>{width}}" for r in results)]
    lines.append("-" * len(lines[0]))
    for lag in lags:
        lines.append(f"{lag:>5}" + "".join(f"{r.relative[lag]:>{width}.3e}" for r in results))
    ref = min(20, max_lag)
    if ref > 0:
        lines.append(f"decay/step over {ref} lags:".ljust(5))
        lines.append(f"{'':>5}" + "".join(f"{r.decay_per_step(ref):>{width}.3f}" for r in results))
    return "\n".join(lines)


def plot(results: list[GradFlow], path: str | Path, title: str = "") -> Path:
    """Semilog plot of the relative gradient norm against lag, one line per model (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for r in results:
        rel = np.clip(r.relative, 1e-30, None)
        ax.semilogy(np.arange(len(rel)), rel, label=r.label, lw=1.8)
    ax.set_xlabel("lag (steps back from the loss)")
    ax.set_ylabel("||dL/dh_{T-lag}|| / ||dL/dh_T||")
    ax.set_title(title or "Gradient flow through time")
    lo = min(float(np.clip(r.relative, 1e-30, None).min()) for r in results)
    ax.set_ylim(max(lo, 1e-20) / 2, 2.0 * max(float(r.relative.max()) for r in results))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def fresh_models(
    cells: list[str], data: EpisodeDataset, hidden_size: int, num_layers: int, seed: int
) -> list[RecurrentDynamicsModel]:
    """Untrained models, one per cell, same seed, normalisers fitted on ``data``."""
    models = []
    for cell in cells:
        torch.manual_seed(seed)
        m = RecurrentDynamicsModel(data.obs_dim, data.act_dim, cell, hidden_size, num_layers)
        m.fit_normalizers(*(torch.as_tensor(getattr(data, f)) for f in ("obs", "act", "next_obs")))
        models.append(m)
    return models




class NoRecurrentCore(ConfigError):
    """A dynamics checkpoint whose model has no recurrent core (a window MLP): nothing to measure."""


@dataclass
class TrainedModel:
    """A trained recurrent dynamics model, the scenario it was trained on, and its run's
    training episodes (``RUN_DIR/train.npz``; None when the file is not there)."""

    model: RecurrentDynamicsModel
    label: str
    scenario: Scenario
    data: EpisodeDataset | None


def load_trained(path: str | Path, label: str = "{cell} ({run})") -> TrainedModel:
    """The trained dynamics model of checkpoint ``path``, labelled ``label`` (``{cell}``: its cell,
    ``{run}``: its run folder's name). :class:`NoRecurrentCore` if it has no recurrent core."""
    path = Path(path)
    ckpt = load_checkpoint(path, kind="dynamics")
    model = build_model(ckpt)
    if not isinstance(model, RecurrentDynamicsModel):
        raise NoRecurrentCore(f"{path}: {ckpt['model_class']} has no recurrent core to diagnose")
    train = path.parent / "train.npz"
    data = EpisodeDataset.load(train) if train.is_file() else None
    name = label.format(cell=model.core.cell, run=path.parent.name)
    return TrainedModel(model, name, scenario_from_dict(ckpt["config"]), data)


def scenario_rollouts(
    scenario: Scenario, episodes: int, seed: int = 0, progress: bool = False
) -> EpisodeDataset:
    """``episodes`` episodes of the scenario's env under its ``dynamics.exploration`` policy."""
    exploration = scenario.dynamics.exploration
    return collect_rollouts(scenario.env, episodes, exploration, seed=seed, progress=progress)


def measure(
    models: Sequence[RecurrentDynamicsModel],
    labels: Sequence[str],
    data: EpisodeDataset,
    length: int,
    batch: int,
    seed: int = 0,
    progress: bool = False,
) -> list[GradFlow]:
    """The gradient flow of every model on the same ``batch`` windows of ``length`` steps of ``data``."""
    obs, act, next_obs = sequences_from(data, length, batch, seed)
    results = []
    with Progress(len(models), "grad-flow", "model", enabled=progress, leave=False) as bar:
        for model, label in zip(models, labels):
            results.append(gradient_flow(model, obs, act, next_obs, label))
            bar.update(1)
    return results


__all__ = [
    "GradFlow",
    "NoRecurrentCore",
    "TrainedModel",
    "fresh_models",
    "gradient_flow",
    "load_trained",
    "measure",
    "plot",
    "scenario_rollouts",
    "sequences_from",
    "table",
]
