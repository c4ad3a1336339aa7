"""Recurrent cores: the sequence path and the step path agree, resets are exact."""

from __future__ import annotations

import pytest
import torch

from rnn_control.models import CELLS, RecurrentCore, reset_state


def _step_loop(core, x, state, episode_start, dt):
    ys = []
    for t in range(x.shape[0]):
        state = reset_state(state, episode_start[t])
        y, state = core.step(x[t], state, None if dt is None else dt[t])
        ys.append(y)
    return torch.stack(ys), state


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_forward_matches_step_across_resets(cell, layers):
    torch.manual_seed(0)
    core = RecurrentCore(3, 16, layers, cell)
    T, B = 40, 5
    x = torch.randn(T, B, 3)
    episode_start = torch.rand(T, B) < 0.1
    episode_start[0, 1] = True
    episode_start[17, :] = True  # a reset in the middle of the sequence for every env
    dt = torch.rand(T, B, 1) * 0.1 if cell == "tgru" else None
    s0 = tuple(torch.randn_like(s) for s in core.initial_state(B))
    y_seq, s_seq = core(x, s0, episode_start, dt)
    y_step, s_step = _step_loop(core, x, s0, episode_start, dt)
    assert y_seq.shape == (T, B, 16)
    assert torch.allclose(y_seq, y_step, atol=1e-5)
    for a, b in zip(s_seq, s_step):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_reset_forgets_the_past(cell):
    """After an episode start the output depends only on inputs from that step on."""
    torch.manual_seed(1)
    core = RecurrentCore(2, 8, 1, cell)
    x = torch.randn(10, 2, 2)
    x[5:, 1] = x[5:, 0]  # same second half, different first half
    start = torch.zeros(10, 2, dtype=torch.bool)
    start[5] = True
    y, _ = core(x, None, start)
    assert torch.allclose(y[5:, 0], y[5:, 1], atol=1e-6)
    assert not torch.allclose(y[:5, 0], y[:5, 1])


def test_segmented_path_is_differentiable():
    core = RecurrentCore(3, 8, 1, "gru")
    x = torch.randn(12, 3, 3, requires_grad=True)
    start = torch.zeros(12, 3, dtype=torch.bool)
    start[6, 0] = True
    y, _ = core(x, None, start)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # gradient does not flow across the reset of env 0
    core.zero_grad()
    x2 = x.detach().clone().requires_grad_(True)
    y2, _ = core(x2, None, start)
    y2[6:, 0].sum().backward()
    assert torch.all(x2.grad[:6, 0] == 0)


def test_time_aware_cell_uses_dt():
    torch.manual_seed(2)
    core = RecurrentCore(2, 8, 1, "tgru")
    x = torch.randn(6, 1, 2)
    y_fast, _ = core(x, None, None, torch.full((6, 1, 1), 0.01))
    y_slow, _ = core(x, None, None, torch.full((6, 1, 1), 0.2))
    assert not torch.allclose(y_fast, y_slow)


def test_unknown_cell_is_refused():
    with pytest.raises(ValueError, match="choose one of: rnn, lstm, gru, tgru"):
        RecurrentCore(2, 8, 1, "transformer")
