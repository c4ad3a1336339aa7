"""Feed-forward baseline: an MLP that sees the last ``window`` observations+actions.

It has the same interface as the recurrent dynamics model (so the same trainer, sampler and
evaluator run it): its "state" is the window of past normalised inputs, ``(buf [B, window,
in+1],)``, where the extra entry flags a filled slot (1) against an empty one (0, before the
episode had that many steps). Resets at episode starts empty the window.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnn_control.models.cores import State
from rnn_control.models.dynamics import DynamicsModel
from rnn_control.models.layers import mlp
from rnn_control.models.registry import register_model


@register_model
class WindowMLPDynamicsModel(DynamicsModel):
    """Gaussian delta prediction from the concatenated last ``window`` (obs, action) pairs."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        window: int = 8,
        hidden: list[int] | None = None,
        log_std_min: float = -6.0,
        log_std_max: float = 1.0,
    ) -> None:
        super().__init__(obs_dim, act_dim, log_std_min, log_std_max)
        self.window = window
        self.slot = obs_dim + act_dim + 1
        self.head = mlp([window * self.slot, *(hidden if hidden is not None else [128, 128]), 2 * obs_dim])

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        device = device if device is not None else self.obs_norm.mean.device
        return (torch.zeros(batch_size, self.window, self.slot, device=device),)

    def reset_state(self, state: State, mask: Tensor) -> State:
        keep = (~mask.to(torch.bool)).view(-1, 1, 1)
        return tuple(s * keep.to(s.dtype) for s in state)

    def features(
        self, x: Tensor, state: State | None, episode_start: Tensor | None, dt: Tensor | None
    ) -> tuple[Tensor, State]:
        T, B = x.shape[:2]
        k = self.window
        buf = (state if state is not None else self.initial_state(B, x.device))[0]
        x = torch.cat([x, x.new_ones(T, B, 1)], dim=-1)
        full = torch.cat([buf.transpose(0, 1), x], dim=0)  # [k + T, B, slot]; x[t] at index k + t
        windows = full.unfold(0, k, 1)[1:]  # [T, B, slot, k]: window of x[t] = full[t+1 .. t+k]
        if episode_start is not None:
            t_idx = torch.arange(T, device=x.device).unsqueeze(1).expand(T, B)
            starts = episode_start.to(torch.bool)
            last_start = torch.cummax(torch.where(starts, t_idx + k, torch.zeros_like(t_idx)), 0).values
            q = t_idx.unsqueeze(-1) + 1 + torch.arange(k, device=x.device)  # [T, B, k] full indices
            valid = (q >= last_start.unsqueeze(-1)).to(x.dtype)
            windows = windows * valid.unsqueeze(2)
        new_buf = windows[-1].permute(0, 2, 1)  # [B, k, slot]
        feats = windows.permute(0, 1, 3, 2).reshape(T, B, k * self.slot)  # oldest slot first
        return feats, (new_buf,)
