"""Coloured (1/f^beta) Gaussian noise along the planning horizon, as iCEM samples it.

``beta = 0`` is white noise, ``1`` pink, ``2`` red (Brownian-like): the higher beta, the smoother
the sampled action sequences and the more of their power sits in slow changes, which is what
swing-ups and locomotion need (Pinneri et al., "Sample-efficient Cross-Entropy Method for
Real-time Planning", 2020). Samples have unit variance per step whatever beta is, so the
planner's ``noise_std`` keeps its meaning.
"""

from __future__ import annotations

import numpy as np


def coloring_matrix(beta: float, steps: int) -> np.ndarray:
    """The linear map ``[steps, 2 * (steps // 2 + 1)]`` from standard normals to unit-variance
    ``1 / f^beta`` noise along time (the inverse real FFT of a shaped spectrum, as a matrix)."""
    freqs = np.fft.rfftfreq(steps)
    freqs[0] = freqs[1] / 2  # the lowest frequency the horizon can hold (keeps a finite DC term)
    amp = freqs ** (-beta / 2.0)
    n = len(freqs)
    eye = np.eye(n)
    real = np.fft.irfft(eye * amp, n=steps, axis=0)  # column j: irfft of amp_j e_j
    imag = np.fft.irfft(1j * eye * amp, n=steps, axis=0)
    mat = np.concatenate([real, imag], axis=1)
    return (mat / np.sqrt((mat**2).sum(axis=1, keepdims=True))).astype(np.float32)


_MATRICES: dict[tuple[float, int], np.ndarray] = {}


def colored_noise(
    rng: np.random.Generator, beta: float, shape: tuple[int, ...], out: np.ndarray | None = None
) -> np.ndarray:
    """Unit-variance Gaussian noise with power spectrum ``1 / f^beta`` along axis 0.

    ``shape``: ``(horizon, ...)``; ``out`` (float32, that shape) is filled and returned if given.
    Deterministic for a given generator state. One small matrix product per call: the inverse FFT
    of the shaped spectrum is precomputed as a matrix (:func:`coloring_matrix`).
    """
    steps = shape[0]
    if beta == 0 or steps < 2:
        if out is None:
            return rng.standard_normal(shape, dtype=np.float32)
        rng.standard_normal(shape, dtype=np.float32, out=out)
        return out
    key = (float(beta), steps)
    mat = _MATRICES.get(key)
    if mat is None:
        mat = _MATRICES[key] = coloring_matrix(beta, steps)
    rest = int(np.prod(shape[1:], dtype=np.int64))
    white = rng.standard_normal((mat.shape[1], rest), dtype=np.float32)
    if out is None or not out.flags.c_contiguous:
        noise = (mat @ white).reshape(shape)
        if out is None:
            return noise
        out[...] = noise
        return out
    np.matmul(mat, white, out=out.reshape(steps, rest))  # a view: out is contiguous
    return out


class NoiseTable:
    """Coloured noise drawn from a table of standard normals generated once (as OpenAI's
    evolution strategies share one noise table): each draw is a random window of the table, mixed
    by the coloring matrix. Drawing normals one by one costs ~25 ns each on small CPUs, which for
    K = 1024 candidates x 30 steps is a millisecond per tick; a window costs nothing.

    Deterministic: the table comes from ``seed``, the windows from the generator given to
    :meth:`draw`.
    """

    def __init__(self, seed: int, per_draw: int, size: int | None = None) -> None:
        self.size = max(size or 0, 1 << 20, 16 * per_draw)
        self.table = np.random.default_rng(seed).standard_normal(self.size, dtype=np.float32)

    def draw(self, rng: np.random.Generator, beta: float, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` (float32, contiguous ``[horizon, ...]``) with unit-variance 1/f^beta noise."""
        steps = out.shape[0]
        rest = out.size // steps
        if beta == 0 or steps < 2:
            start = int(rng.integers(0, self.size - out.size))
            out.reshape(-1)[:] = self.table[start : start + out.size]
            return out
        key = (float(beta), steps)
        mat = _MATRICES.get(key)
        if mat is None:
            mat = _MATRICES[key] = coloring_matrix(beta, steps)
        n = mat.shape[1] * rest
        start = int(rng.integers(0, self.size - n))
        window = self.table[start : start + n].reshape(mat.shape[1], rest)
        np.matmul(mat, window, out=out.reshape(steps, rest))
        return out
