"""The loss of one truncated-BPTT batch of a dynamics model: burn-in without gradient, the
teacher-forced loss over the chunk, and optionally an open-loop (multi-step) loss through the
model's own predictions."""

from __future__ import annotations

import torch

from rnn_control.models.dynamics import DynamicsModel
from rnn_control.train.dynamics.sequences import SequenceBatch


def apply_batch(
    model: DynamicsModel, batch: SequenceBatch, loss_kind: str, open_loop_steps: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Burn-in without gradient, then the loss over the chunk. Returns (loss, normalised MSE).

    The chunk is first run teacher-forced (true observations in, one fused sequence call). With
    ``open_loop_steps > 0`` the first steps of the chunk are also run open loop from the
    burned-in state, the model fed its own predictions with the gradient flowing through them
    (encoder-decoder training, what multi-step prediction needs); both losses are added.
    """
    b = batch.burn_in
    state = None
    if b > 0:
        with torch.no_grad():
            _, _, state = model(batch.obs[:b], batch.act[:b], None, batch.episode_start[:b])
    mean, log_std, _ = model(batch.obs[b:], batch.act[b:], state, batch.episode_start[b:])
    target = model.target(batch.obs[b:], batch.next_obs[b:])
    mask = batch.loss_mask[b:]
    loss = model.loss(mean, log_std, target, mask, loss_kind)
    mse = model.loss(mean.detach(), log_std.detach(), target, mask, "mse")
    if open_loop_steps > 0:
        loss = loss + open_loop_loss(model, batch, state, open_loop_steps, loss_kind)
    return loss, mse


def open_loop_loss(
    model: DynamicsModel, batch: SequenceBatch, state: tuple | None, steps: int, loss_kind: str
) -> torch.Tensor:
    """Mean loss of ``steps`` open-loop predictions after the burn-in (true obs only at resets)."""
    b = batch.burn_in
    if state is None:
        state = model.initial_state(batch.obs.shape[1], batch.obs.device)
    obs_in, losses = batch.obs[b], []
    ones = torch.ones(1, batch.obs.shape[1], dtype=torch.bool)
    for t in range(b, min(b + steps, batch.obs.shape[0])):
        start = batch.episode_start[t]
        state = model.reset_state(state, start)
        obs_in = torch.where(start.unsqueeze(-1), batch.obs[t], obs_in)
        mean, log_std, state = model.step(obs_in, batch.act[t], state)
        target = model.target(obs_in, batch.next_obs[t])
        losses.append(model.loss(mean[None], log_std[None], target[None], ones, loss_kind))
        obs_in = model.to_raw(obs_in, mean, log_std)[0]
    return torch.stack(losses).mean()
