"""Bit-identity of nested training state, for the tests that claim two runs are the same run."""

from __future__ import annotations

import numpy as np
import torch


def identical(a, b) -> bool:
    """Bit-identical nested values: tensors and arrays with their dtype (and shape), dicts,
    sequences, and scalars of the same type."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        if not isinstance(b, np.ndarray) or a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype == object:
            return all(map(identical, a.tolist(), b.tolist()))
        return np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(identical, a, b))
    return type(a) is type(b) and a == b
