"""Running observation normalisation whose statistics live in the module (and so in checkpoints
and in exported ONNX graphs)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RunningNormalizer(nn.Module):
    """``(x - mean) / sqrt(var + eps)``, clipped, with statistics updated from data.

    The statistics are buffers: they are saved with the state dict and baked into an exported
    graph as constants, so a deployed model normalises exactly as it did in training.
    """

    def __init__(self, size: int, eps: float = 1e-5, clip: float = 10.0) -> None:
        super().__init__()
        self.eps = eps
        self.clip = clip
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("var", torch.ones(size))
        self.register_buffer("count", torch.tensor(0.0, dtype=torch.float64))

    @torch.no_grad()
    def reset(self) -> None:
        """Forget the statistics (mean 0, variance 1, no samples)."""
        self.mean.zero_()
        self.var.fill_(1.0)
        self.count.zero_()

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        """Merge the statistics of a batch ``[..., size]`` (parallel Welford / Chan et al.)."""
        self.merge(*self.moments(x))

    @torch.no_grad()
    def moments(self, x: Tensor) -> tuple[int, Tensor, Tensor]:
        """``(count, mean, var)`` of the finite rows of a batch ``[..., size]`` (on the CPU): what
        :meth:`merge` takes, and what data-parallel ranks exchange."""
        x = x.reshape(-1, x.shape[-1]).to(self.mean.dtype)
        x = x[torch.isfinite(x).all(dim=-1)]
        if x.shape[0] == 0:
            return 0, torch.zeros_like(self.mean).cpu(), torch.zeros_like(self.var).cpu()
        return x.shape[0], x.mean(0).cpu(), x.var(0, unbiased=False).cpu()

    @torch.no_grad()
    def merge(self, n: int, b_mean: Tensor, b_var: Tensor) -> None:
        """Merge the moments of ``n`` samples into the running statistics."""
        if n == 0:
            return
        b_mean, b_var = b_mean.to(self.mean), b_var.to(self.var)
        total = self.count + n
        delta = b_mean - self.mean
        w = (n / total).to(self.mean.dtype)
        self.mean += delta * w
        n_old = self.count.to(self.mean.dtype)
        m2 = self.var * n_old + b_var * n + delta.pow(2) * (n_old * n / total.to(self.mean.dtype))
        self.var.copy_(m2 / total.to(self.mean.dtype))
        self.count.copy_(total)

    def forward(self, x: Tensor) -> Tensor:
        return ((x - self.mean) / torch.sqrt(self.var + self.eps)).clamp(-self.clip, self.clip)

    def denormalize(self, x: Tensor) -> Tensor:
        return x * torch.sqrt(self.var + self.eps) + self.mean
