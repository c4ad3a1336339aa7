"""Deterministic policy evaluation and learning-curve plots.

Every episode starts from a zeroed recurrent state: an env that begins a new episode has its
row of the state reset before its first observation is processed, so nothing leaks from one
episode into the next (tested: back-to-back episodes give the same returns as one at a time).
Episode ``k`` is reset with seed ``seed + k`` whatever the number of parallel envs.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rnn_control.envs.factory import make_env
from rnn_control.models.cores import reset_state
from rnn_control.scenario import EnvConfig
from rnn_control.train.policy.setup import actor_initial_state


@dataclass
class EvalResult:
    """Returns and lengths of deterministic evaluation episodes, in episode order."""
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    @property
    def mean(self) -> float:
        """Mean episode return."""
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Standard deviation of the episode returns."""
        return float(np.std(self.returns))

    def summary(self) -> str:
        """One line: mean +/- std over the episodes."""
        return f"return {self.mean:.1f} +/- {self.std:.1f} over {len(self.returns)} episodes"


def env_action(action: np.ndarray, space: gym.Space) -> np.ndarray | int:
    """Policy output (env units) -> what ``env.step`` takes: clipped Box, int for Discrete."""
    if isinstance(space, gym.spaces.Box):
        return np.clip(action, space.low, space.high).astype(space.dtype)
    return int(action.reshape(-1)[0])


@torch.no_grad()
def evaluate_policy(
    model: nn.Module,
    env_cfg: EnvConfig,
    episodes: int = 10,
    seed: int = 0,
    num_envs: int | None = None,
    nominal_dt: float = 0.05,
) -> EvalResult:
    """Run ``episodes`` deterministic episodes on ``num_envs`` envs (default: up to 10 in parallel)."""
    model.eval()
    n = max(1, min(episodes, num_envs or 10))
    envs = [make_env(env_cfg) for _ in range(n)]
    queue = [list(range(j, episodes, n)) for j in range(n)]  # episode indices per env
    time_aware = bool(getattr(model, "time_aware", False))
    obs = np.zeros((n, model.obs_dim), dtype=np.float32)
    dt = np.full((n, 1), nominal_dt, dtype=np.float32)
    ep_return = np.zeros(n)
    ep_len = np.zeros(n, dtype=int)
    results: dict[int, tuple[float, int]] = {}
    current = [-1] * n
    active = np.zeros(n, dtype=bool)
    starting = np.zeros(n, dtype=bool)

    def start(j: int) -> None:
        k = queue[j].pop(0)
        o, info = envs[j].reset(seed=seed + k)
        obs[j], current[j], active[j], starting[j] = o, k, True, True
        dt[j] = info.get("dt", nominal_dt)
        ep_return[j], ep_len[j] = 0.0, 0

    for j in range(n):
        start(j)
    state = actor_initial_state(model, n)
    while active.any():
        state = reset_state(state, torch.from_numpy(starting)) if state else state
        starting[:] = False
        action, state = model.act_inference(
            torch.from_numpy(obs), state, torch.from_numpy(dt) if time_aware else None
        )
        action = action.numpy()
        for j in np.flatnonzero(active):
            o, r, term, trunc, info = envs[j].step(env_action(action[j], envs[j].action_space))
            obs[j] = o
            dt[j] = info.get("dt", nominal_dt)
            ep_return[j] += float(r)
            ep_len[j] += 1
            if term or trunc:
                results[current[j]] = (float(ep_return[j]), int(ep_len[j]))
                if queue[j]:
                    start(j)
                else:
                    active[j] = False
    for e in envs:
        e.close()
    ordered = [results[k] for k in range(episodes)]
    return EvalResult([r for r, _ in ordered], [n_ for _, n_ in ordered])


def plot_learning_curve(metrics_csv: str | Path, out_png: str | Path, title: str = "") -> Path:
    """Training return (and deterministic evaluation return) against env steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(Path(metrics_csv).read_text().splitlines()))
    fig, ax = plt.subplots(figsize=(7, 4))
    train = [
        (float(r["step"]), float(r["train_return"])) for r in rows if r.get("train_return") not in ("", None)
    ]
    evals = [
        (float(r["step"]), float(r["eval_return"]), float(r["eval_std"]))
        for r in rows
        if r.get("eval_return")
    ]
    if train:
        ax.plot(*zip(*train), label="training episodes (stochastic)", alpha=0.7)
    if evals:
        s, m, sd = map(np.asarray, zip(*evals))
        ax.errorbar(s, m, yerr=sd, fmt="o-", capsize=3, label="evaluation (deterministic)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)
