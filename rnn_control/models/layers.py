"""Feed-forward building blocks shared by the policies and the dynamics models."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn


def mlp(sizes: Sequence[int], out_gain: float | None = None) -> nn.Sequential:
    """Tanh MLP ``sizes[0] -> ... -> sizes[-1]`` with a linear output layer.

    ``out_gain=None`` keeps PyTorch's default initialisation (the dynamics models). With a gain,
    every weight is orthogonal (gain ``sqrt(2)`` in the hidden layers, ``out_gain`` in the last)
    and every bias zero: the actor-critic convention (``0.01`` for an actor head, so the first
    actions are near the centre, ``1.0`` for a critic).
    """
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        last = i == len(sizes) - 2
        if out_gain is not None:
            nn.init.orthogonal_(lin.weight, out_gain if last else math.sqrt(2))
            nn.init.zeros_(lin.bias)
        layers.append(lin)
        if not last:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)
