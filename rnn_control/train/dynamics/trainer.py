"""Truncated-BPTT training of a dynamics model, resumable from its run folder.

A run folder holds everything about one run::

    runs/pendulum_novel-gru/
      checkpoint.pt     latest checkpoint (atomic write; the exporter reads it)
      train.npz         training episodes   (collected once, reused on resume)
      heldout.npz       held-out episodes   (never trained on; used by eval-dynamics)
      eval.json         open-loop RMSE at the end of training
      metrics.csv       training and held-out losses (the same scalars as tb/)
      tb/               TensorBoard scalars

Starting a trainer on a folder that already has a checkpoint resumes it: model, optimiser,
sampler and RNG states are restored, so the resumed run computes exactly the updates the
uninterrupted run would have (tested). A checkpoint trained with a different model, env or
data configuration is refused with the list of differences.

Under torchrun every rank draws the same global batch of ``dynamics.batch_size`` windows (one
sampler, one seed) and trains on its own ``1 / world_size`` share of it; the averaged gradient
is then the gradient of the whole batch, so a 2-rank run makes the updates a 1-process run
makes, up to floating-point summation order (tested). Rank 0 collects the data, writes the
checkpoints and evaluates.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch

from rnn_control.errors import ConfigError, TrainingError
from rnn_control.models.dynamics import DynamicsModel
from rnn_control.models.registry import MODEL_CLASSES
from rnn_control.scenario import Scenario
from rnn_control.scenario.dynamics import RUN_LENGTH_KEYS
from rnn_control.train.common.checkpoint import (
    check_config,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from rnn_control.train.common.distributed import Distributed, check_world_size
from rnn_control.train.common.progress import Progress
from rnn_control.train.common.run import CHECKPOINT, TrainResult, start_run
from rnn_control.train.common.run_log import NullLog, RunLog
from rnn_control.train.dynamics.batch_loss import apply_batch
from rnn_control.train.dynamics.calibrate import calibrate_monitor
from rnn_control.train.dynamics.open_loop import OpenLoopReport, evaluate_open_loop
from rnn_control.train.dynamics.rollouts import EpisodeDataset, box_spaces, collect_rollouts
from rnn_control.train.dynamics.sequences import SequenceBatch, SequenceSampler

METRICS = [
    "step",
    "train/loss",
    "train/mse_normalised",
    "train/grad_norm",
    "eval/heldout_loss",
    "eval/heldout_mse_normalised",
]  # the columns of RUN_DIR/metrics.csv (also the TensorBoard tags, with eval/open_loop_nrmse_<h>)


_BATCH_TENSORS = ("obs", "act", "next_obs", "episode_start", "loss_mask")  # SequenceBatch's [T, B] fields


def model_spec(scenario: Scenario, obs_dim: int, act_dim: int) -> tuple[str, dict[str, Any]]:
    """``(model_class, model_kwargs)`` of the dynamics model a scenario asks for."""
    d, m = scenario.dynamics, scenario.model
    common = {
        "obs_dim": obs_dim,
        "act_dim": act_dim,
        "log_std_min": d.log_std_min,
        "log_std_max": d.log_std_max,
    }
    if d.model_type == "window_mlp":
        return "WindowMLPDynamicsModel", {**common, "window": d.window, "hidden": list(d.mlp_hidden)}
    if d.ensemble > 1:
        common["members"] = d.ensemble
    return "EnsembleDynamicsModel" if d.ensemble > 1 else "RecurrentDynamicsModel", {
        **common,
        "cell": m.cell,
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "head_hidden": list(m.head_hidden) if m.head_hidden else None,
        "nominal_dt": m.nominal_dt,
    }


def identity_config(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a scenario dict that must match for a checkpoint to be resumed."""
    dyn = {k: v for k, v in config.get("dynamics", {}).items() if k not in RUN_LENGTH_KEYS}
    out = {
        "seed": config.get("seed"),
        "env": config.get("env"),
        "model": config.get("model"),
        "dynamics": dyn,
    }
    if (config.get("bag") or {}).get("observation"):  # trained from bags: which bags, how read
        out["bag"] = config["bag"]
    return out


class DynamicsTrainer:
    """Collect (or reload) data, build the model, train with truncated BPTT, checkpoint, evaluate."""

    def __init__(
        self,
        scenario: Scenario,
        run_dir: str | Path,
        data: tuple[EpisodeDataset, EpisodeDataset] | None = None,
        progress: bool = True,
        tensorboard: bool = True,
        resume: bool = True,
        spaces: dict[str, Any] | None = None,
        control_period: float | None = None,
        extra: dict[str, Any] | None = None,
        refit_normalizers: bool = False,
    ) -> None:
        """``data``: (train, held-out) episodes to use instead of collecting rollouts; with data
        that no env produced (a bag), ``spaces`` and ``control_period`` describe it and ``extra``
        goes into every checkpoint (e.g. the export's recorded parity inputs).
        ``refit_normalizers``: on resuming, set the normalisers from ``data`` anew (the model-based
        loop, whose data grows and moves towards the states its controller visits)."""
        self.scenario = scenario
        self.cfg = scenario.dynamics
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.tensorboard = tensorboard
        self.config = scenario.to_dict()
        self.dist = Distributed.start(self.cfg.device)
        if self.dist.is_main:
            print(self.dist.describe(), flush=True)
        start_run(scenario.seed, self.cfg.num_threads)

        ckpt_path = self.run_dir / CHECKPOINT
        ckpt = self._load_resumable(ckpt_path) if resume and ckpt_path.is_file() else None
        self.train_data, self.heldout_data = self._data(data)
        self.spaces, period = (spaces, control_period) if spaces is not None else box_spaces(scenario.env)
        self.control_period = period or scenario.model.nominal_dt
        self.extra = dict(extra or {})
        self.model_class, self.model_kwargs = model_spec(
            scenario, self.train_data.obs_dim, self.train_data.act_dim
        )
        self.model: DynamicsModel = MODEL_CLASSES[self.model_class](**self.model_kwargs)
        self.members = int(self.model_kwargs.get("members", 1))  # an ensemble: batch_size windows each
        if self.cfg.batch_size % self.dist.world_size:
            raise ConfigError(
                f"dynamics.batch_size: {self.cfg.batch_size} windows cannot be shared evenly by "
                f"{self.dist.world_size} ranks; make it a multiple of the world size"
            )
        # this rank's windows of the global batch (every member of an ensemble keeps its own:
        # the batch is member-major); None for a group of one
        self._share = (
            torch.arange(self.cfg.batch_size * self.members)
            .view(self.members, self.cfg.batch_size)[:, self.dist.rank :: self.dist.world_size]
            .reshape(-1)
            if self.dist.active
            else None
        )
        self.sampler = SequenceSampler(
            self.train_data, self.cfg.chunk_length, self.cfg.burn_in, self.cfg.batch_size * self.members,
            seed=scenario.seed,
        )  # fmt: skip
        self.update = 0
        t = self.train_data
        transitions = [torch.as_tensor(x) for x in (t.obs, t.act, t.next_obs)]
        if ckpt is None:
            self.model.fit_normalizers(*transitions)
        else:
            self.model.load_state_dict(ckpt["model_state"])
            if refit_normalizers:
                self.model.fit_normalizers(*transitions, reset=True)
        self.model.to(self.dist.device)
        self.dist.broadcast_module(self.model)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
        if ckpt is not None:
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.sampler.load_state_dict(ckpt["sampler"])
            set_rng_state(ckpt["rng"])
            self.update = int(ckpt["step"])
        self.resumed_from = self.update if ckpt is not None else None

    # --- setup ---------------------------------------------------------------------------
    def _load_resumable(self, path: Path) -> dict[str, Any]:
        ckpt = load_checkpoint(path, kind="dynamics")
        check_world_size(ckpt, self.dist.world_size, str(path))
        check_config(
            path,
            identity_config(ckpt.get("config", {})),
            identity_config(self.config),
            hint="use another --run-dir, or --overwrite to start this one again",
        )
        return ckpt

    def _data(
        self, given: tuple[EpisodeDataset, EpisodeDataset] | None
    ) -> tuple[EpisodeDataset, EpisodeDataset]:
        train_path, heldout_path = self.run_dir / "train.npz", self.run_dir / "heldout.npz"
        # rank 0's view decides, so that every rank takes the same branch (and the same barriers)
        saved = self.dist.broadcast_object(given is None and train_path.is_file() and heldout_path.is_file())
        if saved:
            return EpisodeDataset.load(train_path), EpisodeDataset.load(heldout_path)
        if self.dist.is_main:  # rank 0 collects the data (unless given) and writes it
            if given is None:
                c = self.cfg
                all_data = collect_rollouts(
                    self.scenario.env,
                    c.train_episodes + c.heldout_episodes,
                    c.exploration,
                    seed=self.scenario.seed,
                    noise_scale=c.noise_scale,
                    pink_beta=c.pink_beta,
                    ou_theta=c.ou_theta,
                    progress=self.progress,
                )
                given = all_data.split(c.heldout_episodes, seed=self.scenario.seed)
            given[0].save(train_path)
            given[1].save(heldout_path)
        self.dist.barrier()
        if given is None:  # another rank: the data rank 0 wrote
            return EpisodeDataset.load(train_path), EpisodeDataset.load(heldout_path)
        return given

    # --- training ------------------------------------------------------------------------
    def checkpoint_payload(self) -> dict[str, Any]:
        """The checkpoint of the current state (model, optimiser, sampler, RNG; the data by name)."""
        return {
            "kind": "dynamics",
            "config": self.config,
            "model_class": self.model_class,
            "model_kwargs": self.model_kwargs,
            "model_state": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "spaces": self.spaces,
            "control_period": self.control_period,
            "step": self.update,
            "world_size": self.dist.world_size,
            "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.state_dict(),
            "rng": rng_state(),
            "data": {"train": "train.npz", "heldout": "heldout.npz"},
            **self.extra,
        }

    def save(self, extra: dict[str, Any] | None = None) -> Path:
        """Write ``RUN_DIR/checkpoint.pt`` atomically (with ``extra`` entries); rank 0 alone writes
        (every rank holds the same model, optimiser and sampler state)."""
        path = self.run_dir / CHECKPOINT
        if self.dist.is_main:
            save_checkpoint(path, {**self.checkpoint_payload(), **(extra or {})})
        return path

    def train_step(self) -> tuple[float, float, float]:
        """One update; returns (loss, normalised MSE, gradient norm before clipping). Under
        torchrun: of this rank's share of the batch (the gradient norm is the whole batch's)."""
        batch = self._on_device(self.sampler.sample(self._share))
        batch.check_finite(self.update + 1)
        self.model.train()
        loss, mse = apply_batch(self.model, batch, self.cfg.loss, self.cfg.open_loop_steps)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"update {self.update + 1}: the loss is {loss.item()}; not stepping (lower dynamics.lr?)"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.dist.average_gradients(self.model)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)
        if not torch.isfinite(grad_norm):
            raise TrainingError(
                f"update {self.update + 1}: the gradient norm is {grad_norm.item()}; not stepping"
            )
        self.optimizer.step()
        self.update += 1
        return loss.item(), mse.item(), grad_norm.item()

    def _on_device(self, batch: SequenceBatch) -> SequenceBatch:
        """``batch`` on the training device."""
        if self.dist.device.type == "cpu":
            return batch
        moved = {k: getattr(batch, k).to(self.dist.device) for k in _BATCH_TENSORS}
        return dataclasses.replace(batch, **moved)

    def train(self, stop_after: int | None = None) -> TrainResult:
        """Train up to ``dynamics.total_updates``. ``stop_after`` stops abruptly (no final
        checkpoint, as if the process were killed) once that many updates are done."""
        c = self.cfg
        # a fresh run (update 0) drops what an earlier run left in the folder's log
        main = self.dist.is_main
        log = RunLog(self.run_dir, METRICS, self.tensorboard, resume_from=self.update) if main else NullLog()
        bar = Progress(
            c.total_updates, "train-dynamics", "upd", initial=self.update, enabled=self.progress and main
        )
        t0, loss = time.perf_counter(), float("nan")
        try:
            while self.update < c.total_updates:
                loss, mse, grad_norm = self.train_step()
                post = {"loss": f"{loss:.3f}", "mse": f"{mse:.4f}"} if self.update % 10 == 0 else {}
                bar.update(1, **post)
                if self.update % c.log_every == 0:
                    log.log({"step": self.update, "train/loss": loss, "train/mse_normalised": mse,
                             "train/grad_norm": grad_norm})  # fmt: skip
                if self.update % c.checkpoint_every == 0 and self.update < c.total_updates and main:
                    self.save()
                    if (held := self.heldout_loss()) is not None:
                        log.log({"step": self.update, "eval/heldout_loss": held[0],
                                 "eval/heldout_mse_normalised": held[1]})  # fmt: skip
                if stop_after is not None and self.update >= stop_after:
                    return self._result(self.run_dir / CHECKPOINT, time.perf_counter() - t0, loss, None)
            self.dist.close()  # the rest is rank 0's: evaluation, calibration, the final checkpoint
            if not main:
                return self._result(self.run_dir / CHECKPOINT, time.perf_counter() - t0, loss, None)
            self.model.cpu()
            report = self.evaluate()
            summary: dict[str, Any] = {"updates": self.update}
            if report is not None:
                summary.update(horizons=report.horizons, rmse=report.rmse, rmse_per_dim=report.rmse_per_dim)
                nrmse = {f"eval/open_loop_nrmse_{h}": v for h, v in report.rmse.items()}
                log.log({"step": self.update, **nrmse})
        finally:
            bar.close()
            log.close()
        monitor = self.calibrate_monitor()
        if monitor:
            summary["monitor"] = monitor
        path = self.save({"eval": summary, "monitor": monitor})
        (self.run_dir / "eval.json").write_text(json.dumps(summary, indent=2))
        return self._result(path, time.perf_counter() - t0, loss, report)

    def _result(
        self, checkpoint: Path, seconds: float, loss: float, report: OpenLoopReport | None
    ) -> TrainResult:
        return TrainResult(self.run_dir, checkpoint, self.update, seconds, final_loss=loss, report=report)

    @torch.no_grad()
    def heldout_loss(self, windows: int = 64) -> tuple[float, float] | None:
        """(loss, normalised MSE) of teacher-forced prediction on fixed held-out windows: a rising
        curve while the training loss falls means overfitting. Uses its own RNG (resume stays exact)."""
        c = self.cfg
        if len(self.heldout_data) < c.burn_in + c.chunk_length:
            return None
        windows *= self.members  # an ensemble: that many windows per member
        sampler = SequenceSampler(self.heldout_data, c.chunk_length, c.burn_in, windows, seed=0)
        self.model.eval()
        loss, mse = apply_batch(self.model, self._on_device(sampler.sample()), c.loss)
        self.model.train()
        return loss.item(), mse.item()

    def calibrate_monitor(self) -> dict[str, Any]:
        """The dynamics monitor's alarm threshold for ``dynamics.monitor_false_alarms_per_hour`` on
        the held-out episodes (``{}`` without one longer than the window)."""
        c = self.cfg
        long_enough = any(b - a > c.monitor_window for a, b in self.heldout_data.episode_bounds)
        if not long_enough or self.members > 1:  # an ensemble exports as a planning bundle only
            return {}
        return calibrate_monitor(self.model, self.heldout_data, float(self.control_period), c.monitor_window,
                                 c.monitor_false_alarms_per_hour)  # fmt: skip

    def evaluate(self, horizons: list[int] | None = None) -> OpenLoopReport | None:
        """Open-loop RMSE on the held-out episodes (horizons fitted to the longest one); None without any."""
        if self.heldout_data.num_episodes == 0:
            return None
        self.model.eval()
        horizons = horizons or list(self.cfg.eval_horizons)
        longest = max(b - a for a, b in self.heldout_data.episode_bounds)
        history = min(self.cfg.eval_history, max(1, longest - max(horizons)))
        horizons = [h for h in horizons if history + h <= longest] or [max(1, longest - history)]
        return evaluate_open_loop(self.model, self.heldout_data, horizons, history)
