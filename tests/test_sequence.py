"""The fast training pass gives the same outputs and gradients as the core's packed path."""

from __future__ import annotations

import pytest
import torch

from rnn_control.models import RecurrentCore
from rnn_control.models.sequence import sequence_outputs


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
def test_padded_outputs_match_packed_core(cell):
    torch.manual_seed(0)
    core = RecurrentCore(3, 8, 2, cell)
    x = torch.randn(20, 4, 3, requires_grad=True)
    start = torch.rand(20, 4) < 0.15
    start[7, :] = True
    s0 = tuple(torch.randn_like(s) for s in core.initial_state(4))
    ref, _ = core(x, s0, start)
    (g_ref,) = torch.autograd.grad(ref.square().sum(), x)
    out = sequence_outputs(core, x, s0, start)
    (g_out,) = torch.autograd.grad(out.square().sum(), x)
    assert torch.allclose(out, ref, atol=1e-5) and torch.allclose(g_out, g_ref, atol=1e-4)
