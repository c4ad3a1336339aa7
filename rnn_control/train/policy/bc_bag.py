"""Behaviour cloning from demonstrations in rosbag2 recordings (teleoperation, an expert
controller): the recorded commands are the labels, the recurrent student sees the scenario's
``bag:`` observation fields.

The student, its training loop and the checkpoint are the simulator BC's (:mod:`.bc`:
``_fit`` over whole episode pieces from a zero state; :mod:`.setup` builds the policy and the
checkpoint payload); only the data differs. There is no env to evaluate in: the held-out part of
the bags (the last ``bag.heldout_fraction`` in time) gives the score, the normalised action error
of the deterministic student replayed over the recorded observations.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnn_control.bags import BagData, Episode
from rnn_control.errors import CheckpointError, ConfigError, TrainingError
from rnn_control.scenario import Scenario
from rnn_control.train.common.bag_data import checkpoint_extras
from rnn_control.train.common.checkpoint import save_checkpoint
from rnn_control.train.common.distributed import Distributed
from rnn_control.train.common.run import CHECKPOINT, TrainResult, start_run
from rnn_control.train.policy.bc import _fit
from rnn_control.train.policy.setup import build_policy, checkpoint_payload


class _Frame:
    """What ``bc._fit`` needs of a run: the group (one process, on the CPU) and the error to raise
    on a non-finite loss."""

    dist = Distributed.start("cpu", environ={})

    def fail(self, what: str, step: int) -> TrainingError:
        return TrainingError(f"{what}; behaviour cloning from bags stopped, no checkpoint written")


def _sequences(episodes: list[Episode], period: float) -> dict[str, torch.Tensor]:
    """Episodes back to back as one ``[T, 1]`` rollout (``bc._fit`` cuts it at episode starts)."""
    obs = np.concatenate([e.obs[:-1] for e in episodes])
    labels = np.concatenate([e.act for e in episodes])
    starts = np.concatenate([np.arange(e.steps) == 0 for e in episodes])
    T = len(obs)
    return {
        "obs": torch.from_numpy(obs).float().view(T, 1, -1),
        "episode_start": torch.from_numpy(starts).view(T, 1),
        "dt": torch.full((T, 1, 1), float(period)),
        "labels": torch.from_numpy(labels).float().view(T, 1, -1),
    }


@torch.no_grad()
def action_error(model: torch.nn.Module, episodes: list[Episode], period: float) -> float:
    """RMSE of the deterministic student's commands against the recorded ones, in units of the
    action half-range (0: exact), each episode replayed from a zero state."""
    model.eval()
    errs = []
    for e in episodes:
        obs = torch.from_numpy(e.obs[:-1]).float().view(e.steps, 1, -1)
        dt = torch.full((e.steps, 1, 1), float(period)) if getattr(model, "time_aware", False) else None
        out, _, _ = model(obs, model.initial_state(1), None, dt, need_state=False)
        pred = model.deterministic(out[:, 0]).numpy()
        errs.append(((pred - e.act) / model.action_scale.numpy()) ** 2)
    model.train()
    return float(np.sqrt(np.concatenate(errs).mean())) if errs else float("nan")


def train_bc_from_bags(
    scenario: Scenario, run_dir: str | Path, data: BagData, progress: bool = True
) -> TrainResult:
    """Clone the commands recorded in ``data`` into the scenario's recurrent policy; writes
    ``RUN_DIR/checkpoint.pt`` (exportable: spaces, control period and parity inputs from the bags)
    and ``RUN_DIR/eval.json``."""
    cfg = scenario.policy
    if cfg.algorithm != "bc":
        raise ConfigError(
            f"policy.algorithm: from bags only behaviour cloning is possible (bc), got '{cfg.algorithm}'"
        )
    run_dir = Path(run_dir)
    if (run_dir / CHECKPOINT).exists():
        raise CheckpointError(f"{run_dir / CHECKPOINT} already exists: choose another --run-dir")
    start_run(scenario.seed, cfg.num_threads)
    spaces = data.spaces()
    model, model_class, model_kwargs = build_policy(scenario, spaces)
    rollout = _sequences(data.train, data.period)
    model.normalizer.update(rollout["obs"].reshape(-1, model.obs_dim))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    t0 = time.perf_counter()
    loss = _fit(
        model, optimizer, [rollout], cfg, _Frame(), 0, True, bool(getattr(model, "time_aware", False))
    )
    seconds = time.perf_counter() - t0
    heldout = action_error(model, data.heldout, data.period)
    train_err = action_error(model, data.train, data.period)
    steps = int(rollout["obs"].shape[0])
    payload = checkpoint_payload(scenario, model, model_class, model_kwargs, spaces, None, steps)
    payload.update(control_period=data.period, algorithm="bc", **checkpoint_extras(data, "policy"))
    run_dir.mkdir(parents=True, exist_ok=True)
    path = save_checkpoint(run_dir / CHECKPOINT, payload)
    summary: dict[str, Any] = {
        "loss": loss,
        "train_action_nrmse": train_err,
        "heldout_action_nrmse": heldout,
        "train_steps": steps,
        "heldout_steps": sum(e.steps for e in data.heldout),
    }
    (run_dir / "eval.json").write_text(json.dumps(summary, indent=2))
    return TrainResult(run_dir, path, steps, seconds, final_loss=loss, report=summary)
