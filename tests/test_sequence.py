"""The core's one-call path over sequences with episode starts gives the same outputs, final
state and gradients as stepping one tick at a time."""

from __future__ import annotations

import pytest
import torch

from rnn_control.models import RecurrentCore, reset_state


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
def test_sequence_gradients_match_the_step_loop(cell, layers):
    torch.manual_seed(0)
    core = RecurrentCore(3, 8, layers, cell)
    x = torch.randn(20, 4, 3, requires_grad=True)
    start = torch.rand(20, 4) < 0.15
    start[7, :] = True
    s0 = tuple(torch.randn_like(s) for s in core.initial_state(4))
    out, final = core(x, s0, start)
    loss = out.square().sum() + sum(f.sum() for f in final)  # the final state carries gradient too
    (g_out,) = torch.autograd.grad(loss, x)
    state, ys = s0, []
    for t in range(20):
        state = reset_state(state, start[t])
        y, state = core.step(x[t], state)
        ys.append(y)
    ref = torch.stack(ys)
    (g_ref,) = torch.autograd.grad(ref.square().sum() + sum(f.sum() for f in state), x)
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(g_out, g_ref, atol=1e-4)
