"""Truncated-BPTT batches: episode-start masks, burn-in without gradient, NaN detection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnn_control.errors import TrainingError
from rnn_control.models import RecurrentDynamicsModel
from rnn_control.train.dynamics.batch_loss import apply_batch, open_loop_loss
from rnn_control.train.dynamics.rollouts import EpisodeDataset
from rnn_control.train.dynamics.sequences import SequenceSampler


def dataset(lengths: list[int], obs_dim: int = 2, seed: int = 0) -> EpisodeDataset:
    """Episodes of the given lengths with random (finite) content."""
    rng = np.random.default_rng(seed)
    n = sum(lengths)
    start = np.zeros(n, bool)
    start[np.cumsum([0, *lengths[:-1]])] = True
    end = np.zeros(n, bool)
    end[np.cumsum(lengths) - 1] = True
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    return EpisodeDataset(obs, rng.normal(size=(n, 1)).astype(np.float32),
                          obs + 0.1 * rng.normal(size=obs.shape).astype(np.float32),
                          start, np.zeros(n, bool), end)  # fmt: skip


def test_masks_follow_episode_boundaries_and_burn_in():
    data = dataset([10, 7, 25, 3, 30])
    sampler = SequenceSampler(data, chunk_length=12, burn_in=4, batch_size=64, seed=1)
    batch = sampler.sample()
    assert batch.obs.shape == (16, 64, 2) and batch.act.shape == (16, 64, 1)
    assert batch.episode_start[0].all()  # every window starts from a zero state
    assert not batch.loss_mask[:4].any() and batch.loss_mask[4:].all()
    for j, first in enumerate(batch.start_index.tolist()):
        expected = data.episode_start[first : first + 16].copy()
        expected[0] = True
        np.testing.assert_array_equal(batch.episode_start[:, j].numpy(), expected)
        np.testing.assert_array_equal(batch.obs[:, j].numpy(), data.obs[first : first + 16])
    assert batch.episode_start[1:].any()  # some windows cross an episode boundary
    # same seed, same batches (what makes resuming exact)
    again = SequenceSampler(data, 12, 4, 64, seed=1).sample()
    torch.testing.assert_close(again.start_index, batch.start_index)
    with pytest.raises(TrainingError, match="fewer than one window"):
        SequenceSampler(dataset([5]), chunk_length=8, burn_in=2, batch_size=2)


def test_burn_in_warms_the_state_without_gradient():
    torch.manual_seed(0)
    data = dataset([200])
    model = RecurrentDynamicsModel(2, 1, "gru", 16)
    model.fit_normalizers(*(torch.as_tensor(x) for x in (data.obs, data.act, data.next_obs)))
    sampler = SequenceSampler(data, chunk_length=10, burn_in=6, batch_size=3)
    batch = sampler.window_at(torch.tensor([5, 50, 120]))
    batch.obs.requires_grad_(True)
    loss, _ = apply_batch(model, batch, "nll")
    loss.backward()
    assert batch.obs.grad[:6].abs().sum() == 0  # burn-in: no gradient
    assert batch.obs.grad[6:].abs().sum(-1).gt(0).all()
    # the burned-in state changes the chunk's loss (it is not a cold start)
    cold = sampler.window_at(torch.tensor([5, 50, 120]))
    cold.burn_in = 0
    cold.obs, cold.act, cold.next_obs = cold.obs[6:], cold.act[6:], cold.next_obs[6:]
    cold.episode_start, cold.loss_mask = cold.episode_start[6:].clone(), cold.loss_mask[6:]
    cold.episode_start[0] = True
    cold_loss, _ = apply_batch(model, cold, "nll")
    assert abs(cold_loss.item() - loss.item()) > 1e-4


def test_open_loop_loss_backpropagates_through_predictions():
    torch.manual_seed(0)
    data = dataset([100])
    model = RecurrentDynamicsModel(2, 1, "gru", 8)
    batch = SequenceSampler(data, chunk_length=8, burn_in=2, batch_size=2).sample()
    teacher, _ = apply_batch(model, batch, "mse", open_loop_steps=0)
    both, _ = apply_batch(model, batch, "mse", open_loop_steps=8)
    assert both.item() > teacher.item()
    both.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    # The prediction fed back as the next input carries the gradient: the loss of open-loop step 2
    # depends on step 1's predicted mean only through that feedback (the recurrent state does not
    # pass through the mean), so a .detach() anywhere on the feedback path makes this gradient zero.
    means, losses = [], []
    step, loss_fn = model.step, model.loss

    def recording_step(*args, **kwargs):
        mean, log_std, state = step(*args, **kwargs)
        means.append(mean)
        return mean, log_std, state

    def recording_loss(*args, **kwargs):
        losses.append(loss_fn(*args, **kwargs))
        return losses[-1]

    model.step, model.loss = recording_step, recording_loss
    open_loop_loss(model, batch, None, 2, "mse")
    (through_feedback,) = torch.autograd.grad(losses[1], means[0])
    assert through_feedback.abs().sum() > 1e-6


def test_nan_batch_is_reported_with_the_update_number():
    data = dataset([40, 40])
    data.obs[45, 1] = np.nan
    sampler = SequenceSampler(data, chunk_length=10, burn_in=0, batch_size=4)
    batch = sampler.window_at(torch.tensor([0, 40, 41, 20]))
    with pytest.raises(
        TrainingError, match=r"update 17: .*2 in 'obs' \(windows starting at transitions \[40, 41\]\)"
    ):
        batch.check_finite(17)
    sampler.window_at(torch.tensor([0, 50])).check_finite(1)  # clean windows pass
