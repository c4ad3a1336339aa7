"""Truncated-BPTT sequence batches: chunks with burn-in and episode-start masks.

A batch is ``batch_size`` windows of ``burn_in + chunk_length`` consecutive transitions cut at
random from the flat episode storage. Windows may span episode boundaries; ``episode_start``
marks where the recurrent state must be reset. Every window starts from a zero state
(``episode_start[0]`` is True), the first ``burn_in`` steps warm it without gradient and
without loss (``loss_mask`` False), the remaining ``chunk_length`` steps are trained on::

    time ->   | burn-in (no grad, no loss) | chunk (loss, BPTT)          |
    episode:  ....A A A A A A A A A A A A A A A A B B B B B B B B B B B B
    start:      1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnn_control.errors import TrainingError
from rnn_control.train.dynamics.rollouts import EpisodeDataset


@dataclass
class SequenceBatch:
    """Time-major tensors ``[burn_in + chunk_length, B, ...]``."""

    obs: Tensor
    act: Tensor
    next_obs: Tensor
    episode_start: Tensor  # bool [T, B]
    loss_mask: Tensor  # bool [T, B]: False on burn-in steps
    burn_in: int
    start_index: Tensor  # [B] flat index of each window's first transition

    def check_finite(self, update: int) -> None:
        """Raise :class:`TrainingError` naming the update and the fields if anything is NaN/inf."""
        bad = []
        for name in ("obs", "act", "next_obs"):
            t = getattr(self, name)
            n = int((~torch.isfinite(t)).sum())
            if n:
                rows = (~torch.isfinite(t)).reshape(t.shape[0], t.shape[1], -1).any(-1).any(0)
                where = self.start_index[rows][:3].tolist()
                bad.append(f"{n} in '{name}' (windows starting at transitions {where})")
        if bad:
            raise TrainingError(
                f"update {update}: the training batch contains non-finite values: {'; '.join(bad)}. "
                "Not trained on it; the collected data is corrupt (a diverging simulation?): "
                "recollect it or filter those episodes"
            )


class SequenceSampler:
    """Random windows of ``burn_in + chunk_length`` steps from an :class:`EpisodeDataset`.

    Its randomness is its own ``torch.Generator`` (:meth:`state_dict` / :meth:`load_state_dict`),
    so a resumed run draws exactly the batches the uninterrupted one would have drawn.
    """

    def __init__(
        self, data: EpisodeDataset, chunk_length: int, burn_in: int, batch_size: int, seed: int = 0
    ) -> None:
        self.window = burn_in + chunk_length
        if len(data) < self.window:
            raise TrainingError(
                f"the dataset has {len(data)} transitions, fewer than one window of burn_in + chunk_length "
                f"= {self.window}; collect more episodes or shorten the chunk"
            )
        self.chunk_length, self.burn_in, self.batch_size = chunk_length, burn_in, batch_size
        self.obs = torch.as_tensor(data.obs, dtype=torch.float32)
        self.act = torch.as_tensor(data.act, dtype=torch.float32)
        self.next_obs = torch.as_tensor(data.next_obs, dtype=torch.float32)
        self.starts = torch.as_tensor(data.episode_start, dtype=torch.bool)
        self.generator = torch.Generator().manual_seed(seed)
        self.loss_mask = torch.arange(self.window).unsqueeze(1).expand(self.window, batch_size) >= burn_in

    def sample(self, share: Tensor | None = None) -> SequenceBatch:
        """A batch of windows at random starts (drawn from the sampler's own generator); with
        ``share`` (indices into the batch), only those windows of it are built."""
        first = torch.randint(
            0, len(self.obs) - self.window + 1, (self.batch_size,), generator=self.generator
        )
        return self.window_at(first if share is None else first[share])

    def window_at(self, first: Tensor) -> SequenceBatch:
        """The windows starting at flat transition indices ``first [B]``."""
        idx = first.unsqueeze(0) + torch.arange(self.window).unsqueeze(1)  # [T, B]
        starts = self.starts[idx].clone()
        starts[0] = True  # every window starts from a zero state
        return SequenceBatch(
            obs=self.obs[idx],
            act=self.act[idx],
            next_obs=self.next_obs[idx],
            episode_start=starts,
            loss_mask=self.loss_mask[:, : len(first)],
            burn_in=self.burn_in,
            start_index=first,
        )

    def state_dict(self) -> dict:
        """The generator state, for the checkpoint."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore the generator state :meth:`state_dict` returned."""
        self.generator.set_state(state["generator"])


def heldout_windows(data: EpisodeDataset, history: int, horizon: int, stride: int) -> np.ndarray:
    """Flat start indices of evaluation windows (``history`` true steps, then ``horizon`` open
    loop) that lie entirely inside one episode, every ``stride`` steps."""
    out = []
    for a, b in data.episode_bounds:
        out.extend(range(a, b - history - horizon + 1, stride))
    return np.asarray(out, dtype=np.int64)
