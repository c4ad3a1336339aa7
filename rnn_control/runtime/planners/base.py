"""What the planners share: the rollout-model protocol, bounds, warm start, deadline, results.

A planner owns a mean plan ``[H, a]`` (model units) that it warm-starts from the previous tick's,
shifted by one step (the last step repeated). Each iteration fills the model's candidate buffer
``[H, N, a]``, runs one rollout and scores it with the cost; non-finite predictions score ``inf``
and are never chosen. ``solve(..., deadline=t)`` (``time.perf_counter()`` seconds) starts another
iteration only if the previous ones say it will end before ``t``; when even the first one ends
after ``t`` the result is ``late`` and carries the previous plan, shifted (what a node sends when a
solve overruns). The noise comes from one generator re-seeded at :meth:`Planner.reset`, so a
planner given the same observations plans exactly the same way (with no deadline interfering).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rnn_control.runtime.planners.costs import Cost
from rnn_control.runtime.planners.noise import NoiseTable
from rnn_control.scenario.mpc import MpcConfig

OK, TRUNCATED, LATE, NO_VALID = "ok", "truncated", "late", "no_valid"
STATUSES = (OK, TRUNCATED, LATE, NO_VALID)


class RolloutModel(Protocol):
    """A batch of imagined rollouts: the planning bundle, or an oracle simulator."""

    horizon: int
    batch: int
    members: int
    obs_dim: int
    act_dim: int
    actions: np.ndarray  # [H, N, a] candidates, written by the planner

    def rollout(self) -> np.ndarray:
        """Predicted observations ``[H, E, N, o]`` for the candidates in :attr:`actions`."""
        ...


@dataclass
class PlanResult:
    """One solve."""

    action: np.ndarray | None  # first action to execute (model units); None: no valid candidate
    plan: np.ndarray  # [H, a] the plan it comes from
    cost: float  # cost of the best candidate (inf: none was valid)
    iterations: int  # rollouts run
    status: str  # ok | truncated (deadline stopped further iterations) | late | no_valid
    invalid: int  # candidates discarded for non-finite predictions
    seconds: float


class Planner:
    """Base class: subclasses implement :meth:`_iterate` and :meth:`_finish`."""

    def __init__(
        self, model: RolloutModel, cost: Cost, config: MpcConfig, low: np.ndarray, high: np.ndarray
    ) -> None:
        self.model, self.cost, self.config = model, cost, config
        self.low = np.asarray(low, dtype=np.float32).reshape(-1)
        self.high = np.asarray(high, dtype=np.float32).reshape(-1)
        if self.low.shape != (model.act_dim,) or not np.all(self.low <= self.high):
            raise ValueError(f"bounds: need low <= high for {model.act_dim} actions, got {low} / {high}")
        self.horizon, self.batch = model.horizon, model.batch
        finite = np.isfinite(self.low) & np.isfinite(self.high)
        half = np.where(finite, (self.high - self.low) / 2, 1.0)
        self.sigma = (config.noise_std * half).astype(np.float32)  # per action dim, model units
        self.center = np.clip(0.0, self.low, self.high).astype(np.float32)
        self._noise = np.zeros(model.actions.shape, dtype=np.float32)
        steps = model.actions.shape[0]
        self._table = NoiseTable(config.seed, 2 * (steps // 2 + 1) * self._noise[0].size)
        self._iter_seconds = 0.0
        self.reset()

    def reset(self) -> None:
        """Forget the plan and re-seed the noise (an episode starts)."""
        self.rng = np.random.default_rng(self.config.seed)
        self.mean = np.tile(self.center, (self.horizon, 1))
        self.best: np.ndarray | None = None
        self._fresh = True

    def sample(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """Candidates ``clip(mean + std * noise)`` written into the model's buffer ``[H, N, a]``."""
        buf = self.model.actions
        self._table.draw(self.rng, self.config.noise_beta, self._noise)
        np.multiply(self._noise, std[:, None, :] if std.ndim == 2 else std, out=buf)
        buf += mean[:, None, :]
        np.clip(buf, self.low, self.high, out=buf)
        return buf

    def evaluate(self, obs0: np.ndarray, prev_action: np.ndarray) -> np.ndarray:
        """Roll out the candidates in the buffer and score them: ``[N]`` (ensembles: the mean
        over members, plus the disagreement penalty)."""
        pred = self.model.rollout()  # [H, E, N, o]
        h, e, n, o = pred.shape
        acts = self.model.actions
        if e == 1:
            return self.cost(pred[:, 0], acts, obs0, prev_action)
        tiled = np.broadcast_to(acts[:, None], (h, e, n, acts.shape[-1])).reshape(h, e * n, -1)
        per_member = self.cost(pred.reshape(h, e * n, o), tiled, obs0, prev_action).reshape(e, n)
        costs = per_member.mean(axis=0)
        if self.cost.config.disagreement > 0:
            with np.errstate(invalid="ignore"):
                spread = pred.std(axis=1).mean(axis=-1).sum(axis=0)  # [N]
            costs = costs + self.cost.config.disagreement * spread
        costs[~np.isfinite(costs)] = np.inf
        return costs

    @staticmethod
    def shift(plan: np.ndarray) -> np.ndarray:
        """``plan`` one step later, the last step repeated."""
        return np.concatenate([plan[1:], plan[-1:]])

    def solve(self, obs0: np.ndarray, prev_action: np.ndarray, deadline: float | None = None) -> PlanResult:
        """Plan from the current observation; see the module docstring."""
        t0 = time.perf_counter()
        obs0 = np.asarray(obs0, dtype=np.float32).reshape(-1)
        prev_action = np.asarray(prev_action, dtype=np.float32).reshape(-1)
        if not self._fresh and self.config.warm_start:
            self.mean = self.shift(self.mean)
            if self.best is not None:
                self.best = self.shift(self.best)
        elif not self.config.warm_start:
            self.mean = np.tile(self.center, (self.horizon, 1))
        self._fresh = False
        previous = self.mean.copy()
        self._begin()
        best_cost, best, invalid, done, status = np.inf, None, 0, 0, OK
        for it in range(self.config.iterations):
            now = time.perf_counter()
            if it > 0 and deadline is not None and now + self._iter_seconds > deadline:
                status = TRUNCATED
                break
            costs = self._iterate(it, obs0, prev_action)
            done += 1
            finite = np.isfinite(costs)
            invalid += int(costs.size - finite.sum())
            if finite.any():
                i = int(np.argmin(costs))
                if costs[i] < best_cost:
                    best_cost, best = float(costs[i]), self.model.actions[:, i].copy()
            took = time.perf_counter() - now
            self._iter_seconds = took if self._iter_seconds == 0 else max(took, 0.8 * self._iter_seconds)
        seconds = time.perf_counter() - t0
        if best is None:
            self.mean = previous
            return PlanResult(None, previous, np.inf, done, NO_VALID, invalid, seconds)
        self.best = best
        plan = self._finish()
        if deadline is not None and time.perf_counter() > deadline:
            return PlanResult(previous[0].copy(), previous, best_cost, done, LATE, invalid, seconds)
        action = best[0] if self.config.execute == "best" else plan[0]
        return PlanResult(action.copy(), best if self.config.execute == "best" else plan, best_cost, done,
                          status, invalid, seconds)  # fmt: skip

    # ------------------------------------------------------------------ to implement
    def _begin(self) -> None:
        """Per-tick setup after the warm start (e.g. the CEM std)."""

    def _iterate(self, it: int, obs0: np.ndarray, prev_action: np.ndarray) -> np.ndarray:
        """Sample into the buffer, evaluate, update the distribution; return the costs ``[N]``."""
        raise NotImplementedError

    def _finish(self) -> np.ndarray:
        """The plan ``[H, a]`` after the last iteration (also the next warm start)."""
        return self.mean
