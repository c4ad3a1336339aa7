"""Dynamics models: predict the next observation from the history of observations and actions.

Every dynamics model here predicts the *normalised delta* ``(next_obs - obs - mu) / sigma`` as a
diagonal Gaussian (mean and clamped log-std), so uncertainty comes with every prediction. The
normalisers (observation, action, delta) are buffers inside the model: a checkpoint or an
exported graph carries them.

Shared interface (:class:`DynamicsModel`), time-major like the cores:

- ``forward(obs [T,B,o], act [T,B,a], state, episode_start [T,B], dt) -> (mean, log_std, state)``
  in normalised-delta units, used for training over whole sequences;
- ``step(obs [B,o], act [B,a], state, dt)``: the one-tick path;
- ``predict_inference(obs_act [B,o+a], state, dt) -> (next_obs_mean, next_obs_std, state)`` in
  raw units (the method the ONNX exporter traces);
- ``rollout(history_obs, history_act, planned_actions)``: warm the state on a true history, then
  feed the model its own predictions over a planned action sequence (open loop).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnn_control.models.cores import RecurrentCore, State, reset_state
from rnn_control.models.layers import mlp
from rnn_control.models.normalizer import RunningNormalizer
from rnn_control.models.registry import register_model


class DynamicsModel(nn.Module):
    """Base class: normalisers, Gaussian delta head, loss, raw-unit prediction and rollouts.

    Subclasses implement :meth:`initial_state` and :meth:`features`, which maps normalised
    inputs ``[T, B, o+a]`` to features ``[T, B, F]`` (and a new state); ``self.head`` maps
    features to ``2 * obs_dim`` (mean and log-std of the normalised delta).
    """

    def __init__(self, obs_dim: int, act_dim: int, log_std_min: float, log_std_max: float) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.act_dim = act_dim
        self.log_std_min = log_std_min
        self.log_std_max = log_std_max
        self.obs_norm = RunningNormalizer(obs_dim)
        self.act_norm = RunningNormalizer(act_dim)
        self.delta_norm = RunningNormalizer(obs_dim)
        # 1 for observation entries that change, 0 for constant ones (a target position, a
        # flag): those are predicted as unchanged and left out of the loss, where a near-zero
        # variance would otherwise blow their normalised errors up and swamp the gradient.
        self.register_buffer("delta_active", torch.ones(obs_dim))
        self.head: nn.Module

    # --- to implement -------------------------------------------------------------------
    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        raise NotImplementedError

    def features(
        self, x: Tensor, state: State | None, episode_start: Tensor | None, dt: Tensor | None
    ) -> tuple[Tensor, State]:
        raise NotImplementedError

    def reset_state(self, state: State, mask: Tensor) -> State:
        """Zero the state of every sequence where ``mask [B]`` is True (an episode starts)."""
        return reset_state(state, mask)

    # --- shared --------------------------------------------------------------------------
    @torch.no_grad()
    def fit_normalizers(self, obs: Tensor, act: Tensor, next_obs: Tensor, reset: bool = False) -> None:
        """Set the input and target statistics from training transitions ``[N, ...]`` (merged into
        the ones so far; ``reset``: replacing them)."""
        if reset:
            for norm in (self.obs_norm, self.act_norm, self.delta_norm):
                norm.reset()
        self.obs_norm.update(obs)
        self.act_norm.update(act)
        self.delta_norm.update(next_obs - obs)
        self.delta_active.copy_((self.delta_norm.var > 1e-12).to(self.delta_active.dtype))

    def normalize_input(self, obs: Tensor, act: Tensor) -> Tensor:
        return torch.cat([self.obs_norm(obs), self.act_norm(act)], dim=-1)

    def target(self, obs: Tensor, next_obs: Tensor) -> Tensor:
        """Training target: the normalised delta (not clipped, so the loss sees outliers)."""
        return (next_obs - obs - self.delta_norm.mean) / torch.sqrt(self.delta_norm.var + self.delta_norm.eps)

    def forward(
        self,
        obs: Tensor,
        act: Tensor,
        state: State | None = None,
        episode_start: Tensor | None = None,
        dt: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, State]:
        """Sequences ``[T, B, ...]`` -> normalised-delta mean and log-std ``[T, B, o]``, state."""
        feats, state = self.features(self.normalize_input(obs, act), state, episode_start, dt)
        mean, log_std = self.head(feats).chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max), state

    def step(
        self, obs: Tensor, act: Tensor, state: State | None = None, dt: Tensor | None = None
    ) -> tuple[Tensor, Tensor, State]:
        """One tick ``[B, ...]`` of :meth:`forward`."""
        mean, log_std, state = self.forward(
            obs.unsqueeze(0), act.unsqueeze(0), state, None, None if dt is None else dt.unsqueeze(0)
        )
        return mean.squeeze(0), log_std.squeeze(0), state

    def loss(self, mean: Tensor, log_std: Tensor, target: Tensor, mask: Tensor, kind: str = "nll") -> Tensor:
        """Mean Gaussian NLL (or MSE) over the steps where ``mask [T, B]`` is True."""
        if kind == "mse":
            per_dim = (mean - target).pow(2)
        else:
            z = (target - mean) * torch.exp(-log_std)
            per_dim = 0.5 * z.pow(2) + log_std + 0.5 * math.log(2 * math.pi)
        active = self.delta_active
        per = (per_dim * active).sum(-1) / active.sum().clamp_min(1.0)
        m = mask.to(per.dtype)
        return (per * m).sum() / m.sum().clamp_min(1.0)

    def to_raw(self, obs: Tensor, mean: Tensor, log_std: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised delta distribution -> next-observation mean and std in raw units."""
        scale = torch.sqrt(self.delta_norm.var + self.delta_norm.eps) * self.delta_active
        return obs + self.delta_norm.mean + mean * scale, torch.exp(log_std) * scale

    def predict_inference(
        self, obs_act: Tensor, state: State, dt: Tensor | None = None
    ) -> tuple[Tensor, Tensor, State]:
        """Deployment path: raw ``[obs, action]`` -> next-observation mean and std (raw units)."""
        obs, act = obs_act[:, : self.obs_dim], obs_act[:, self.obs_dim :]
        mean, log_std, state = self.step(obs, act, state, dt)
        next_mean, next_std = self.to_raw(obs, mean, log_std)
        return next_mean, next_std, state

    @torch.no_grad()
    def rollout(
        self,
        history_obs: Tensor,
        history_act: Tensor,
        planned_actions: Tensor,
        state: State | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Open-loop prediction.

        ``history_obs [K+1, B, o]`` are true observations ``o_0..o_K`` and ``history_act
        [K, B, a]`` the actions taken after ``o_0..o_{K-1}``; the state is warmed on those pairs
        (one fused sequence call). Then from the true ``o_K`` the model predicts ``o_{K+1}`` for
        ``planned_actions[0]`` and so on, each step fed its own previous mean prediction.
        Returns the predicted means and stds ``[H, B, o]`` for ``o_{K+1}..o_{K+H}``.
        """
        if history_act.shape[0] != history_obs.shape[0] - 1:
            raise ValueError(
                f"rollout: history_act must have one step fewer than history_obs, got "
                f"{history_act.shape[0]} actions for {history_obs.shape[0]} observations"
            )
        if state is None:
            state = self.initial_state(history_obs.shape[1], history_obs.device)
        if history_act.shape[0] > 0:
            _, _, state = self.forward(history_obs[:-1], history_act, state)
        obs = history_obs[-1]
        means, stds = [], []
        for act in planned_actions:
            mean, log_std, state = self.step(obs, act, state)
            obs, std = self.to_raw(obs, mean, log_std)
            means.append(obs)
            stds.append(std)
        return torch.stack(means), torch.stack(stds)


@register_model
class RecurrentDynamicsModel(DynamicsModel):
    """Recurrent dynamics model: normalised obs+action -> :class:`RecurrentCore` -> Gaussian delta."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        head_hidden: list[int] | None = None,
        nominal_dt: float = 0.05,
        log_std_min: float = -6.0,
        log_std_max: float = 1.0,
    ) -> None:
        super().__init__(obs_dim, act_dim, log_std_min, log_std_max)
        self.core = RecurrentCore(obs_dim + act_dim, hidden_size, num_layers, cell, nominal_dt)
        self.head = mlp([hidden_size, *(head_hidden or []), 2 * obs_dim])

    def initial_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        return self.core.initial_state(batch_size, device)

    def features(
        self, x: Tensor, state: State | None, episode_start: Tensor | None, dt: Tensor | None
    ) -> tuple[Tensor, State]:
        return self.core(x, state, episode_start, dt)

    def step_features_python(
        self, x: Tensor, state: State, episode_start: Tensor | None
    ) -> tuple[Tensor, State]:
        """The same as :meth:`features` but one :meth:`RecurrentCore.step` per time step in a Python
        loop (used by the throughput benchmark and the gradient-flow diagnostic)."""
        ys = []
        for t in range(x.shape[0]):
            if episode_start is not None:
                state = reset_state(state, episode_start[t])
            y, state = self.core.step(x[t], state)
            ys.append(y)
        return torch.stack(ys), state
