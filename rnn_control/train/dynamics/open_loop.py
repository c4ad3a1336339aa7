"""Multi-step open-loop prediction error of a dynamics model on held-out episodes.

For every window inside a held-out episode the model is warmed on ``history`` true steps, then
rolled out open loop over the actions that were actually taken, for ``max(horizons)`` steps.
The error is normalised per observation dimension by that dimension's standard deviation in
the held-out data (so 1.0 means "as bad as predicting the mean", whatever the units), and the
RMSE over the first ``h`` predicted steps is reported for each horizon ``h``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnn_control.errors import TrainingError
from rnn_control.models.dynamics import DynamicsModel
from rnn_control.train.dynamics.rollouts import EpisodeDataset
from rnn_control.train.dynamics.sequences import heldout_windows


@dataclass
class OpenLoopReport:
    """Open-loop prediction error by horizon (normalised RMSE: 1.0 is as bad as predicting the mean)."""
    horizons: list[int]
    rmse: dict[int, float]  # normalised RMSE over steps 1..h, averaged over dimensions
    rmse_per_dim: dict[int, list[float]]
    num_windows: int

    def table(self) -> str:
        """The report as a fixed-width text table, one row per horizon."""
        lines = [f"{'horizon':>8} {'nRMSE':>8}   per dimension", "-" * 40]
        for h in self.horizons:
            dims = " ".join(f"{v:.3f}" for v in self.rmse_per_dim[h])
            lines.append(f"{h:>8d} {self.rmse[h]:>8.4f}   {dims}")
        return "\n".join(lines)


@torch.no_grad()
def evaluate_open_loop(
    model: DynamicsModel,
    data: EpisodeDataset,
    horizons: list[int],
    history: int = 32,
    stride: int = 10,
    max_windows: int = 512,
) -> OpenLoopReport:
    """Normalised open-loop RMSE at each horizon over held-out ``data``."""
    horizon = max(horizons)
    first = heldout_windows(data, history, horizon, stride)
    if first.size == 0:
        longest = max((b - a for a, b in data.episode_bounds), default=0)
        raise TrainingError(
            f"no held-out episode is long enough for history {history} + horizon {horizon} steps "
            f"(longest has {longest}); lower --horizons or --history"
        )
    if first.size > max_windows:
        first = first[np.linspace(0, first.size - 1, max_windows).astype(np.int64)]
    obs = torch.as_tensor(data.obs, dtype=torch.float32)
    act = torch.as_tensor(data.act, dtype=torch.float32)
    next_obs = torch.as_tensor(data.next_obs, dtype=torch.float32)
    idx = torch.as_tensor(first).unsqueeze(0)
    hist_obs = obs[idx + torch.arange(history + 1).unsqueeze(1)]
    hist_act = act[idx + torch.arange(history).unsqueeze(1)]
    future = idx + history + torch.arange(horizon).unsqueeze(1)
    pred, _ = model.rollout(hist_obs, hist_act, act[future])
    scale = torch.as_tensor(data.obs.std(0), dtype=torch.float32).clamp_min(1e-6)
    err2 = ((pred - next_obs[future]) / scale).pow(2)  # [H, B, o]
    rmse, per_dim = {}, {}
    for h in horizons:
        per = err2[:h].mean(dim=(0, 1)).sqrt()
        per_dim[h] = per.tolist()
        rmse[h] = float(err2[:h].mean().sqrt())
    return OpenLoopReport(list(horizons), rmse, per_dim, int(first.size))
