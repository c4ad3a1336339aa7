"""YAML sidecars: the metadata of a bundle exported by another tool (rsl_rl, Isaac Lab)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnn_control.config import load_yaml
from rnn_control.contract.metadata import SCHEMA_VERSION, BundleMetadata, metadata_from_dict
from rnn_control.errors import BundleError, ConfigError


def find_sidecar(path: str | Path) -> Path | None:
    """A YAML sidecar next to a bundle: ``model.yaml`` or ``model.onnx.yaml``."""
    path = Path(path)
    for cand in (path.with_suffix(".yaml"), path.with_name(path.name + ".yaml")):
        if cand.is_file():
            return cand
    return None


def load_sidecar(sidecar: str | Path, inferred: dict[str, Any]) -> BundleMetadata:
    """Metadata for a foreign bundle from a YAML sidecar.

    The sidecar uses the same keys as the metadata; ``inferred`` (cell, sizes read off the graph)
    fills what it leaves out, and ``schema_version``/``kind``/``producer`` get defaults.
    """
    sidecar = Path(sidecar)
    try:
        data = load_yaml(sidecar)
    except ConfigError as exc:
        raise BundleError(f"sidecar {exc}") from None
    merged = {"schema_version": SCHEMA_VERSION, "kind": "policy", "producer": "sidecar", **inferred, **data}
    return metadata_from_dict(merged, where=str(sidecar))
