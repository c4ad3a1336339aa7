"""Atomic, resumable checkpoints.

A checkpoint is one ``torch.save`` file holding a dict with at least:

- ``format``: :data:`FORMAT` (bumped when the layout changes)
- ``kind``: ``"dynamics"`` or ``"policy"`` (what trained it)
- ``config``: the plain-dict scenario/model configuration it was trained with
- ``step``: training progress (env steps or gradient steps, trainer-defined)
- model / optimiser / normaliser state dicts and RNG states, under trainer-defined keys

Writes go to a temporary file in the same directory that is then ``os.replace``-d over the
target, so a run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnn_control.atomic import atomic_open
from rnn_control.config import diff_dicts
from rnn_control.errors import CheckpointError

FORMAT = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically to ``path`` (parent directories are created)."""
    path = Path(path)
    with atomic_open(path, "wb") as f:
        torch.save({"format": FORMAT, **payload}, f)
    return path


def load_checkpoint(
    path: str | Path,
    kind: str | None = None,
    expected_config: dict[str, Any] | None = None,
    compare_keys: tuple[str, ...] = ("model",),
) -> dict[str, Any]:
    """Load a checkpoint, checking its kind and (parts of) its configuration.

    ``expected_config`` is compared with the stored ``config`` on ``compare_keys`` only (the
    sections that change the network's shape); a mismatch raises :class:`CheckpointError`
    listing every difference.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(f"{path}: not a readable rnn_control checkpoint ({exc})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path}: unsupported checkpoint format {found!r}, expected {FORMAT}")
    if kind is not None and ckpt.get("kind") != kind:
        raise CheckpointError(f"{path}: is a {ckpt.get('kind')!r} checkpoint, expected a {kind!r} one")
    if expected_config is not None:
        check_config(path, ckpt.get("config", {}), expected_config, compare_keys)
    return ckpt


def check_config(
    path: str | Path,
    stored: dict[str, Any],
    expected: dict[str, Any],
    keys: Sequence[str] | None = None,
    hint: str = "",
) -> None:
    """Raise :class:`CheckpointError` listing every difference between the configuration a
    checkpoint was trained with and the requested one (on ``keys`` only, or all of it);
    ``hint`` ends the message (what the user can do)."""
    if keys is None:
        diffs = diff_dicts(stored, expected)
    else:
        diffs = [d for key in keys for d in diff_dicts(stored.get(key), expected.get(key), key)]
    if diffs:
        raise CheckpointError(
            f"{path}: was trained with a different configuration (checkpoint != requested):\n  "
            + "\n  ".join(diffs)
            + (f"\n{hint}" if hint else "")
        )


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states, for bit-exact resumption."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states :func:`rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
