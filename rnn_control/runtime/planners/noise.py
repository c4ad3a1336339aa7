"""Coloured (1/f^beta) Gaussian noise along the planning horizon, as iCEM samples it.

``beta = 0`` is white noise, ``1`` pink, ``2`` red (Brownian-like): the higher beta, the smoother
the sampled action sequences and the more of their power sits in slow changes, which is what
swing-ups and locomotion need (Pinneri et al., "Sample-efficient Cross-Entropy Method for
Real-time Planning", 2020). Samples have unit variance per step whatever beta is, so the
planner's ``noise_std`` keeps its meaning.
"""

from __future__ import annotations

import numpy as np


def colored_noise(
    rng: np.random.Generator, beta: float, shape: tuple[int, ...], out: np.ndarray | None = None
) -> np.ndarray:
    """Unit-variance Gaussian noise with power spectrum ``1 / f^beta`` along axis 0.

    ``shape``: ``(horizon, ...)``; ``out`` (float32, that shape) is filled and returned if given.
    Deterministic for a given generator state.
    """
    steps = shape[0]
    if beta == 0 or steps < 2:
        noise = rng.standard_normal(shape, dtype=np.float32)
    else:
        freqs = np.fft.rfftfreq(steps)
        freqs[0] = freqs[1] / 2  # the lowest frequency the horizon can hold (keeps a finite DC term)
        amp = freqs ** (-beta / 2.0)
        # irfft keeps the real part of the DC (and, for an even horizon, the Nyquist) term: the
        # per-step variance is (amp_0^2 + 4 sum_mid amp_k^2 + amp_nyquist^2) / steps^2
        weights = np.full(len(freqs), 4.0)
        weights[0] = 1.0
        if steps % 2 == 0:
            weights[-1] = 1.0
        sigma = np.sqrt(np.sum(weights * amp**2)) / steps
        extra = (1,) * (len(shape) - 1)
        spec = rng.standard_normal((len(freqs), *shape[1:])) + 1j * rng.standard_normal(
            (len(freqs), *shape[1:])
        )
        spec *= amp.reshape(-1, *extra)
        noise = (np.fft.irfft(spec, n=steps, axis=0) / sigma).astype(np.float32)
    if out is None:
        return noise
    out[...] = noise
    return out
