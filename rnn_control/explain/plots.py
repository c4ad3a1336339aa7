"""PNG figures for explain: gate heatmaps over an episode and the attribution heatmap."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnn_control.explain.attribution import Attribution
from rnn_control.explain.gates import GateTrace
from rnn_control.explain.recording import EpisodeRecord


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _order_units(h: np.ndarray) -> np.ndarray:
    """Sort hidden units by the time of their largest excursion (readable heatmaps)."""
    return np.argsort(np.argmax(np.abs(h - h.mean(0)), axis=0))


def plot_gates(
    record: EpisodeRecord,
    trace: GateTrace | None,
    out: str | Path,
    obs_names: list[str] | None = None,
    title: str = "",
) -> Path:
    """Observations and actions on top, then one heatmap (unit x time) per gate and layer.

    Without a gate trace (a bundle with no checkpoint beside it) the hidden state is shown.
    """
    plt = _plt()
    if trace is not None:
        panels = [(name, g) for name, g in trace.gates.items()]
        if "hidden" not in trace.gates and trace.hidden is not None:
            panels.append(("hidden state", trace.hidden))
    else:
        panels = [("hidden state", record.states_after[0])]
        if len(record.states_after) > 1:
            panels.append(("cell state", record.states_after[1]))
    layers = panels[0][1].shape[1]
    n_rows = 1 + len(panels)
    fig, axes = plt.subplots(
        n_rows, layers, figsize=(5.5 * layers + 1, 1.9 * n_rows + 1), squeeze=False, sharex=True
    )
    T = record.length
    t_s = np.arange(T) * record.control_period
    names = obs_names or [f"obs_{i}" for i in range(record.observations.shape[1])]
    for col in range(layers):
        ax = axes[0, col]
        for i, n in enumerate(names):
            ax.plot(t_s, record.observations[:, i], lw=1, label=n)
        for j in range(record.actions.shape[1]):
            ax.plot(t_s, record.actions[:, j], "k--", lw=1, label=f"action {j}")
        ax.set_title(
            f"episode (return {record.episode_return:.1f})" + (f", layer {col}" if layers > 1 else "")
        )
        ax.legend(fontsize=7, ncol=4, loc="upper right")
        ax.grid(alpha=0.3)
        for row, (name, g) in enumerate(panels, start=1):
            gl = g[:, col]
            ax = axes[row, col]
            is_gate = name not in ("hidden", "hidden state", "cell state")
            im = ax.imshow(
                gl[:, _order_units(gl)].T,
                aspect="auto",
                origin="lower",
                extent=(0, T * record.control_period, 0, gl.shape[1]),
                cmap="viridis" if is_gate else "RdBu_r",
                vmin=0 if is_gate else -1,
                vmax=1,
                interpolation="nearest",
            )
            ax.set_ylabel(f"{name}\nunit" + (f" (layer {col})" if layers > 1 else ""))
            fig.colorbar(im, ax=ax, pad=0.01)
    for ax in axes[-1]:
        ax.set_xlabel("time [s]")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return Path(out)


def plot_attribution(
    attr: Attribution, out: str | Path, obs_names: list[str] | None = None, title: str = ""
) -> Path:
    """Heatmap input dimension x lag, and the lag profile with its cumulative mass."""
    plt = _plt()
    D, W1 = attr.values.shape
    names = obs_names or [f"obs_{i}" for i in range(D)]
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(9, 2.2 + 0.35 * D + 2.6), height_ratios=[max(D, 2), 3])
    im = ax0.imshow(attr.values, aspect="auto", cmap="magma", interpolation="nearest")
    ax0.set_yticks(range(D), names)
    ax0.set_xlabel("lag (steps before the current action; 0 = current frame)")
    ax0.set_title(title or f"attribution of the action to past inputs ({attr.method})")
    fig.colorbar(im, ax=ax0, pad=0.01, label="mean |attribution|")
    prof = attr.lag_profile
    lags = np.arange(W1)
    ax1.bar(lags, prof, color="tab:blue", label="share per lag")
    ax1b = ax1.twinx()
    ax1b.plot(lags, np.cumsum(prof), "k-", lw=1.5, label="cumulative")
    lag90 = attr.lag_for_mass(0.9)
    ax1b.axvline(lag90, color="tab:red", ls="--", label=f"90% within {lag90} steps")
    ax1b.set_ylim(0, 1.02)
    ax1.set_xlabel("lag [steps]")
    ax1.set_ylabel("share of attribution")
    ax1b.set_ylabel("cumulative")
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax1b.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, loc="center right", fontsize=8)
    ax1.set_xlim(-0.5, W1 - 0.5)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return Path(out)
