"""Rollout buffer for recurrent PPO, cut into fixed-length chunks of whole env sequences.

A rollout of ``T`` steps from ``N`` envs is split into ``T / L`` chunks of ``L`` steps. For each
chunk the recurrent state *before its first step* is stored, so the update can replay every
chunk through the fused core kernel in one call (``[L, sequences, ...]``), with episode starts
inside a chunk handled by the core's reset mask. Sequence ``c * N + n`` is chunk ``c`` of env ``n``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

State = tuple[Tensor, ...]


class RolloutStorage:
    """Tensors ``[T, N, ...]`` of one rollout, the state at every chunk start, GAE targets."""

    def __init__(
        self,
        steps: int,
        num_envs: int,
        obs_dim: int,
        act_dim: int,
        chunk_length: int,
        state: State,
        device: torch.device | str = "cpu",
    ) -> None:
        T, N = steps, num_envs
        self.steps, self.num_envs, self.chunk_length = T, N, chunk_length
        self.num_chunks = T // chunk_length
        self.obs = torch.zeros(T, N, obs_dim, device=device)
        self.actions = torch.zeros(T, N, act_dim, device=device)
        self.log_probs = torch.zeros(T, N, device=device)
        self.values = torch.zeros(T, N, device=device)
        self.rewards = torch.zeros(T, N, device=device)
        self.dones = torch.zeros(T, N, device=device)
        self.episode_start = torch.zeros(T, N, dtype=torch.bool, device=device)
        self.dt = torch.zeros(T, N, 1, device=device)
        self.advantages = torch.zeros(T, N, device=device)
        self.returns = torch.zeros(T, N, device=device)
        self.chunk_states = [torch.zeros(self.num_chunks, *s.shape, device=device) for s in state]

    def store_state(self, t: int, state: State) -> None:
        """Call at every step; keeps the state at chunk starts."""
        if t % self.chunk_length == 0:
            for buf, s in zip(self.chunk_states, state):
                buf[t // self.chunk_length] = s

    def compute_gae(self, last_value: Tensor, gamma: float, lam: float) -> None:
        """Generalised advantage estimation; ``dones[t]``: the episode ended at step ``t``
        (rewards of truncated steps already include the bootstrapped value of the final obs)."""
        adv = torch.zeros(self.num_envs, device=self.obs.device)
        next_value = last_value
        for t in reversed(range(self.steps)):
            not_done = 1.0 - self.dones[t]
            delta = self.rewards[t] + gamma * next_value * not_done - self.values[t]
            adv = delta + gamma * lam * not_done * adv
            self.advantages[t] = adv
            next_value = self.values[t]
        self.returns = self.advantages + self.values

    def _seq(self, x: Tensor) -> Tensor:
        """``[T, N, ...]`` -> ``[L, C * N, ...]``."""
        L, C, N = self.chunk_length, self.num_chunks, self.num_envs
        x = x.reshape(C, L, N, *x.shape[2:]).transpose(0, 1)
        return x.reshape(L, C * N, *x.shape[3:])

    def minibatches(self, num_minibatches: int) -> Iterator[dict[str, Tensor | State]]:
        """Random minibatches of whole chunks (all steps of a chunk stay together)."""
        seq = {
            name: self._seq(getattr(self, name))
            for name in (
                "obs",
                "actions",
                "log_probs",
                "values",
                "advantages",
                "returns",
                "episode_start",
                "dt",
            )
        }
        # [C, layers, N, H] -> [layers, C * N, H]
        states = tuple(s.permute(1, 0, 2, 3).reshape(s.shape[1], -1, s.shape[3]) for s in self.chunk_states)
        total = self.num_chunks * self.num_envs
        perm = torch.randperm(total).to(self.obs.device)
        size = max(1, total // num_minibatches)
        for i in range(0, total - size + 1, size):
            idx = perm[i : i + size]
            mb = {k: v[:, idx] for k, v in seq.items()}
            mb["state"] = tuple(s[:, idx] for s in states)
            yield mb
