"""The frame every trainer shares: the checkpoint's name in a run folder, the process setup
before anything random happens, and the result a trainer returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnn_control.train.common.checkpoint import seed_everything

CHECKPOINT = "checkpoint.pt"  # RUN_DIR/checkpoint.pt: the latest checkpoint of a run (the exporter reads it)
BEST_CHECKPOINT = "best.pt"  # RUN_DIR/best.pt: a policy run's best periodic evaluation (export takes it too)


def start_run(seed: int, num_threads: int) -> None:
    """Pin torch's intra-op threads and seed Python, numpy and torch (call before building models)."""
    torch.set_num_threads(num_threads)
    seed_everything(seed)


@dataclass
class TrainResult:
    """What a trainer returns.

    ``steps`` counts progress in the trainer's unit, the checkpoint's ``step``: env steps for a
    policy, gradient updates for a dynamics model. The policy fields are ``None`` for a dynamics
    run and the dynamics fields ``None`` for a policy run.
    """

    run_dir: Path
    checkpoint: Path
    steps: int
    train_time_s: float
    # policy trainers: the last deterministic evaluation, the first time the target was reached
    final_eval_return: float | None = None
    final_eval_std: float | None = None
    first_target: dict[str, float] | None = None
    learning_curve: Path | None = None
    # the dynamics trainer: last training loss, open-loop report on held-out episodes
    final_loss: float | None = None
    report: Any = None  # rnn_control.train.dynamics.open_loop.OpenLoopReport (None when stopped early)
