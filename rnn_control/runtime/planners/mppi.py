"""MPPI (model-predictive path integral control, Williams et al. 2017), torch-free.

Each iteration perturbs the mean plan with coloured noise (``noise_std`` of each command's
half-range, ``noise_beta`` along time), clips the candidates to the command limits, and replaces
the mean by the candidates averaged with weights ``exp(-(cost - min cost) / temperature)``
(the clipped candidates, so the mean stays inside the limits). Candidate 0 is the mean itself and
candidate 1 the previous tick's best candidate, shifted (elites kept across ticks); discarded
candidates (non-finite predictions) weigh nothing.
"""

from __future__ import annotations

import numpy as np

from rnn_control.runtime.planners.base import Planner


class MPPI(Planner):
    """Model-predictive path integral control over a :class:`RolloutModel`."""

    def _iterate(self, it: int, obs0: np.ndarray, prev_action: np.ndarray) -> np.ndarray:
        cand = self.sample(self.mean, self.sigma)
        cand[:, 0] = self.mean
        if self.best is not None and self.batch > 2:
            cand[:, 1] = self.best
        costs = self.evaluate(obs0, prev_action)
        finite = np.isfinite(costs)
        if finite.any():
            z = np.where(finite, costs - costs[finite].min(), np.inf)
            w = np.exp(-z / self.config.temperature)
            w /= w.sum()
            self.mean = np.tensordot(w.astype(np.float32), cand, axes=([0], [1]))  # [H, a]
        return costs
