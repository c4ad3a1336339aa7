"""The frame around every policy trainer: process setup, run folder, resume, periodic
evaluation, metrics, checkpoints (atomic, the last good one is kept when training fails),
learning curve."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnn_control.envs.factory import make_env
from rnn_control.envs.spaces import describe_env
from rnn_control.errors import CheckpointError, TrainingError
from rnn_control.scenario import Scenario
from rnn_control.train.common.checkpoint import load_checkpoint, save_checkpoint, seed_everything
from rnn_control.train.common.distributed import Distributed, check_world_size
from rnn_control.train.common.run import BEST_CHECKPOINT, CHECKPOINT, start_run
from rnn_control.train.common.run_log import NullLog, RunLog
from rnn_control.train.policy.evaluate import EvalResult, evaluate_policy, plot_learning_curve
from rnn_control.train.policy.setup import (
    build_policy,
    check_observation_space,
    checkpoint_payload,
)

METRICS = [
    "step",
    "iteration",
    "time_s",
    "train_return",
    "eval_return",
    "eval_std",
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "lr",
    "steps_per_s",
]  # the columns of RUN_DIR/metrics.csv


class PolicyRun:
    """Shared state of one training run in ``run_dir``, on one process or on each rank of a
    torchrun group (:mod:`rnn_control.train.common.distributed`).

    Constructing it joins the group, seeds the process and pins torch's threads (before the
    policy is built), then builds the policy on the training device, or restores it from
    ``run_dir``'s checkpoint with ``resume``; every rank then holds rank 0's parameters.
    ``rank_state`` is this rank's part of a resumed checkpoint (RNG, reward scaler, ...).
    """

    def __init__(
        self,
        scenario: Scenario,
        run_dir: str | Path,
        resume: bool = False,
        tensorboard: bool = True,
    ) -> None:
        self.scenario = scenario
        self.cfg = scenario.policy
        self.dist = Distributed.start(self.cfg.device)
        if self.dist.is_main:
            print(self.dist.describe(), flush=True)
        start_run(scenario.seed, self.cfg.num_threads)
        self.run_dir = Path(run_dir)
        self.ckpt_path = self.run_dir / CHECKPOINT
        probe = make_env(scenario.env)
        self.probe_env = probe
        self.spaces = describe_env(probe)
        self.model, self.model_class, self.model_kwargs = build_policy(scenario, self.spaces)
        self.resumed: dict[str, Any] | None = None
        self.rank_state: dict[str, Any] | None = None
        if self.ckpt_path.exists() and not resume:
            raise CheckpointError(
                f"{self.ckpt_path} already exists: pass --resume to continue that run, "
                "or choose another --run-dir"
            )
        if resume and self.ckpt_path.exists():
            ckpt = load_checkpoint(self.ckpt_path, kind="policy", expected_config=scenario.to_dict())
            check_world_size(ckpt, self.dist.world_size, str(self.ckpt_path))
            check_observation_space(ckpt["spaces"], probe.observation_space, str(self.ckpt_path))
            if ckpt["model_class"] != self.model_class or ckpt["model_kwargs"] != self.model_kwargs:
                raise CheckpointError(
                    f"{self.ckpt_path}: policy architecture differs from the scenario's "
                    f"({ckpt['model_class']} {ckpt['model_kwargs']} != "
                    f"{self.model_class} {self.model_kwargs})"
                )
            self.model.load_state_dict(ckpt["model_state"])
            self.resumed = ckpt
            self.rank_state = ckpt["ranks"][self.dist.rank] if "ranks" in ckpt else ckpt
        self.model.to(self.dist.device)
        self.dist.broadcast_module(self.model)  # also the barrier before rank 0 writes anything
        if self.dist.active:  # the ranks' own random streams (rank 0 keeps the scenario's seed)
            seed_everything(self.dist.rank_seed(scenario.seed, 1_000_003))
        resumed_step = self.resumed["step"] if self.resumed is not None else None
        self.log: RunLog | NullLog = (
            RunLog(self.run_dir, METRICS, tensorboard=tensorboard, resume_from=resumed_step)
            if self.dist.is_main
            else NullLog()
        )
        self.last_saved_step: int | None = self.resumed["step"] if self.resumed else None
        self.eval_time = 0.0
        self.first_target: dict[str, float] | None = (self.resumed or {}).get("first_target")
        # the best periodic evaluation so far ({"step", "return"}), its weights in best.pt
        self.best: dict[str, float] | None = (self.resumed or {}).get("best_eval")
        self.best_path = self.run_dir / BEST_CHECKPOINT

    @property
    def nominal_dt(self) -> float:
        """Seconds per env step (the env's control period, else the scenario's nominal dt)."""
        from rnn_control.envs.timing import control_period

        return control_period(self.probe_env) or self.scenario.model.nominal_dt

    def evaluate(self, model: nn.Module, seed: int) -> EvalResult:
        """Deterministic evaluation (``policy.eval_episodes``, on the CPU); the model is left in
        train mode. Rank 0 alone evaluates."""
        t0 = time.perf_counter()
        subject = model if self.dist.device.type == "cpu" else copy.deepcopy(model).cpu()
        res = evaluate_policy(
            subject, self.scenario.env, self.cfg.eval_episodes, seed=seed, nominal_dt=self.nominal_dt
        )
        model.train()
        self.eval_time += time.perf_counter() - t0
        return res

    def note_eval(self, res: EvalResult, step: int, train_time: float) -> None:
        """Remember the first evaluation that reached ``policy.target_return``, and write the
        weights of the best evaluation so far to ``best.pt`` (a policy checkpoint that ``export``
        takes like the last one: PPO's late collapses, e.g. on Hopper, do not lose a good policy).
        Rank 0 alone evaluates, so rank 0 alone calls this."""
        target = self.cfg.target_return
        if target is not None and self.first_target is None and res.mean >= target:
            self.first_target = {"step": step, "time_s": train_time, "return": res.mean}
        if self.best is None or res.mean > self.best["return"]:
            self.best = {"step": step, "return": res.mean, "std": res.std}
            payload = checkpoint_payload(
                self.scenario, self.model, self.model_class, self.model_kwargs, self.spaces,
                self.probe_env, step, best_eval=self.best,
            )  # fmt: skip
            save_checkpoint(self.best_path, payload)

    def target_reached(self) -> bool:
        """True when training should stop (``policy.stop_at_target`` and the target was reached);
        every rank takes rank 0's answer (call it on every rank at the same points)."""
        if self.cfg.stop_at_target and self.dist.active:
            self.first_target = self.dist.broadcast_object(self.first_target)
        return self.cfg.stop_at_target and self.first_target is not None

    def save(self, step: int, rank_state: dict[str, Any] | None = None, **trainer_state: Any) -> Path:
        """Write the checkpoint atomically (model, spaces, config, plus the trainer's state).

        Collective: call it on every rank at the same points. ``rank_state`` (RNG streams,
        running statistics, ...) is gathered from every rank into ``ranks``; rank 0's is also at
        the top level, where a one-process run keeps it. Rank 0 alone writes."""
        states = self.dist.gather_objects(rank_state or {})
        if self.dist.is_main:
            payload = checkpoint_payload(
                self.scenario,
                self.model,
                self.model_class,
                self.model_kwargs,
                self.spaces,
                self.probe_env,
                step,
                first_target=self.first_target,
                best_eval=self.best,
                world_size=self.dist.world_size,
                **states[0],
                **trainer_state,
            )
            if self.dist.active:
                payload["ranks"] = states
            save_checkpoint(self.ckpt_path, payload)
        self.last_saved_step = step
        return self.ckpt_path

    def fail(self, what: str, step: int) -> TrainingError:
        """The error to raise when training cannot go on: what failed, and what was kept."""
        kept = (
            f"the last good checkpoint ({self.ckpt_path}, step {self.last_saved_step}) is kept"
            if self.last_saved_step is not None
            else "no checkpoint had been written yet"
        )
        return TrainingError(f"{what} at step {step}; training stopped, {kept}")

    def finish(self) -> Path | None:
        """Close the log, the probe env and the group; the learning-curve PNG (None if it could
        not be drawn, and on ranks other than 0)."""
        self.log.close()
        self.probe_env.close()
        self.dist.close()
        if not self.dist.is_main:
            return None
        try:
            return plot_learning_curve(
                self.log.csv_path, self.run_dir / "learning_curve.png", self.scenario.name or "policy"
            )
        except Exception:  # a plot must never lose a training run
            return None


def check_finite(loss: torch.Tensor, run: PolicyRun, step: int, name: str = "loss") -> None:
    """Stop training (:meth:`PolicyRun.fail`) on a NaN or infinite loss."""
    if not torch.isfinite(loss):
        raise run.fail(f"non-finite {name} ({loss.item()})", step)
