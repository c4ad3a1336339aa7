"""Atomic file writes: write a temporary file beside the target, fsync, then rename over it.

A process killed mid-write leaves the previous file intact (checkpoints, bundles, run-folder
markers, recordings). Stdlib only, so the runtime and the ROS nodes may use it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    For writers that want a file name (``onnx.save_model``); see :func:`atomic_open` for a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """``open(path, mode)`` whose content appears at ``path`` only once fully written."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f
        f.flush()


def write_json_atomic(path: str | Path, data: Any, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        json.dump(data, f, indent=indent, default=str)
    return Path(path)
