"""CEM / iCEM (Pinneri et al. 2020), torch-free.

Each tick starts from the previous mean plan shifted by one step and the initial std
(``noise_std`` of each half-range). Each iteration samples coloured-noise candidates around the
mean, keeps the best ``elites`` (finite costs only), and refits mean and std to them with
``momentum`` (the std floored at ``min_std``). A ``keep_elites`` share of the elites is carried
into the next iteration and, shifted by one step, into the next tick; the last iteration also
evaluates the mean itself. ``execute: best`` runs the best candidate seen (iCEM), ``mean`` the
refitted mean.
"""

from __future__ import annotations

import numpy as np

from rnn_control.runtime.planners.base import Planner


class CEM(Planner):
    """Cross-entropy method with iCEM's coloured noise and elite keeping."""

    def reset(self) -> None:
        super().reset()
        self.kept: np.ndarray | None = None  # [H, k, a]

    def _begin(self) -> None:
        self.std = np.tile(self.sigma, (self.horizon, 1))
        self.floor = np.tile(self.config.min_std / self.config.noise_std * self.sigma, (self.horizon, 1))
        if self.kept is not None and self.config.warm_start:
            self.kept = np.concatenate([self.kept[1:], self.kept[-1:]])

    def _iterate(self, it: int, obs0: np.ndarray, prev_action: np.ndarray) -> np.ndarray:
        cfg = self.config
        cand = self.sample(self.mean, self.std)
        k = 0 if self.kept is None else min(self.kept.shape[1], self.batch - 1)
        if k:
            cand[:, :k] = self.kept[:, :k]
        if it == cfg.iterations - 1:
            cand[:, -1] = self.mean
        costs = self.evaluate(obs0, prev_action)
        finite = np.flatnonzero(np.isfinite(costs))
        if finite.size:
            n_elite = min(cfg.elites, finite.size)
            order = finite[np.argsort(costs[finite], kind="stable")[:n_elite]]
            elites = cand[:, order]  # [H, e, a]
            m = cfg.momentum
            self.mean = m * self.mean + (1 - m) * elites.mean(axis=1)
            self.std = np.maximum(m * self.std + (1 - m) * elites.std(axis=1), self.floor)
            n_keep = round(cfg.keep_elites * n_elite)
            self.kept = elites[:, :n_keep].copy() if n_keep else None
        return costs
