"""The demo's run folder: where every artifact lives, and atomic stage markers.

::

    <run>/demo.json                 settings of this run (a re-run with other settings is refused)
    <run>/stages/<stage>.json       marker written atomically when a stage completes
    <run>/policy/checkpoint.pt      policy checkpoint (+ learning_curve.png, metrics, tb/)
    <run>/dynamics/checkpoint.pt    dynamics checkpoint (+ its rollouts, eval.json)
    <run>/bundles/policy.onnx       parity-checked bundles
    <run>/bundles/dynamics.onnx
    <run>/evaluate/evaluation.json  in-process and random-policy returns
    <run>/closed_loop/              node logs, recorded topics, closed_loop.json
    <run>/explain/                  gates.png, attribution.png, explain.md/json
    <run>/summary.md, summary.json, learning_curve.png, closed_loop.png
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rnn_control.atomic import write_json_atomic


class RunFolder:
    """Paths of one demo run and its stage markers."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.policy_dir = self.root / "policy"
        self.dynamics_dir = self.root / "dynamics"
        self.bundles_dir = self.root / "bundles"
        self.evaluate_dir = self.root / "evaluate"
        self.closed_loop_dir = self.root / "closed_loop"
        self.explain_dir = self.root / "explain"
        self.stages_dir = self.root / "stages"

    @property
    def policy_checkpoint(self) -> Path:
        return self.policy_dir / "checkpoint.pt"

    @property
    def dynamics_checkpoint(self) -> Path:
        return self.dynamics_dir / "checkpoint.pt"

    @property
    def policy_bundle(self) -> Path:
        return self.bundles_dir / "policy.onnx"

    @property
    def dynamics_bundle(self) -> Path:
        return self.bundles_dir / "dynamics.onnx"

    def marker(self, stage: str) -> Path:
        return self.stages_dir / f"{stage}.json"

    def completed(self, stage: str) -> dict[str, Any] | None:
        """The stage's marker if the stage completed and all its outputs still exist."""
        path = self.marker(stage)
        if not path.is_file():
            return None
        try:
            marker = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if not all((self.root / p).exists() for p in marker.get("outputs", [])):
            return None
        return marker

    def mark_done(
        self, stage: str, outputs: list[Path], info: dict[str, Any], seconds: float
    ) -> dict[str, Any]:
        marker = {
            "stage": stage,
            "completed_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "seconds": round(seconds, 2),
            "outputs": [str(Path(p).relative_to(self.root)) for p in outputs],
            "info": info,
        }
        write_json_atomic(self.marker(stage), marker)
        return marker

    def invalidate(self, stage: str) -> None:
        self.marker(stage).unlink(missing_ok=True)
