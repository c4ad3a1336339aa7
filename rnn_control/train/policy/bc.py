"""Behaviour cloning and DAgger: a recurrent student that sees only the partial observation
learns from an expert that sees the full simulator state.

Round 0 rolls out the expert and records (observation sequence, expert action) pairs. With
``algorithm: dagger`` every later round rolls out the *student* and relabels what it visited
with the expert's actions (the student learns to recover from its own mistakes), and the data
set grows by aggregation. Each round trains on whole rollouts (every sequence starts at an
episode start, so no stored states are needed) with BPTT through the fused core kernel.

Under torchrun each rank collects with its own envs and seeds and keeps its own data set; the
ranks take the same number of minibatches per epoch (the smallest rank's count) and average
their gradients at every step.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rnn_control.envs.factory import make_vec_env
from rnn_control.errors import ConfigError
from rnn_control.scenario import Scenario
from rnn_control.train.common.checkpoint import rng_state, set_rng_state
from rnn_control.train.common.distributed import update_normalizer
from rnn_control.train.common.progress import Progress
from rnn_control.train.common.run import TrainResult
from rnn_control.train.policy.experts import get_expert
from rnn_control.train.policy.run import PolicyRun, check_finite
from rnn_control.train.policy.setup import info_dt


def train_bc(
    scenario: Scenario,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    tensorboard: bool = True,
) -> TrainResult:
    """Behaviour cloning (``policy.algorithm: bc``, one round) or DAgger (``dagger``, several)."""
    cfg = scenario.policy
    if scenario.env.vectorization != "sync":
        raise ConfigError(
            "env.vectorization: behaviour cloning needs 'sync' (the expert reads each env's state)"
        )
    expert = get_expert(cfg.expert, scenario.env.id)
    run = PolicyRun(scenario, run_dir, resume=resume, tensorboard=tensorboard)
    group = run.dist
    model: nn.Module = run.model
    N = cfg.num_envs or scenario.env.num_envs  # per rank
    rounds = 1 if cfg.algorithm == "bc" else cfg.dagger_iterations
    T = max(1, cfg.total_steps // (rounds * N * group.world_size))
    per_round = T * N * group.world_size
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    data: list[dict[str, torch.Tensor]] = []
    start_round, step, train_time = 0, 0, 0.0
    if run.resumed is not None:
        ck, mine = run.resumed, run.rank_state
        optimizer.load_state_dict(ck["optimizer"])
        set_rng_state(mine["rng"])
        data = mine["dataset"]
        start_round, step, train_time = ck["round"], ck["step"], ck["train_time_s"]
    venv = make_vec_env(scenario.env, N, seed=group.rank_seed(scenario.seed, N))
    is_box = isinstance(venv.single_action_space, gym.spaces.Box)
    time_aware = bool(getattr(model, "time_aware", False))
    bar = Progress(
        rounds * per_round, f"{cfg.algorithm} {scenario.name}", "step", initial=step,
        enabled=progress and group.is_main,
    )  # fmt: skip
    res = None
    for rnd in range(start_round, rounds):
        t0 = time.perf_counter()
        beta = 1.0 if rnd == 0 else 0.0  # who acts: expert in round 0, then the student
        seed = group.rank_seed(scenario.seed + 1000 * rnd, N)
        data.append(_collect(model, venv, expert, T, beta, seed, run.nominal_dt, time_aware))
        seen = torch.cat([d["obs"].reshape(-1, model.obs_dim) for d in data])
        update_normalizer(group, model.normalizer, seen)
        loss = _fit(model, optimizer, data, cfg, run, step, is_box, time_aware)
        step += per_round
        train_time += time.perf_counter() - t0
        if group.is_main:
            res = run.evaluate(model, seed=scenario.seed + 100_000)
            run.note_eval(res, step, train_time)
            run.log.log(
                {
                    "step": step,
                    "iteration": rnd + 1,
                    "time_s": round(train_time, 3),
                    "policy_loss": round(loss, 6),
                    "eval_return": round(res.mean, 3),
                    "eval_std": round(res.std, 3),
                }
            )
        run.save(
            step,
            rank_state={"rng": rng_state(), "dataset": data},
            round=rnd + 1,
            train_time_s=train_time,
            optimizer=optimizer.state_dict(),
            algorithm=cfg.algorithm,
        )
        bar.update(per_round, loss=f"{loss:.4f}", eval=f"{res.mean:.1f}" if res is not None else "-")
        if run.target_reached():
            break
    bar.close()
    venv.close()
    if res is None and group.is_main:
        res = run.evaluate(model, seed=scenario.seed + 100_000)
    curve = run.finish()
    mean, std = (res.mean, res.std) if res is not None else (None, None)
    return TrainResult(run.run_dir, run.ckpt_path, step, train_time, mean, std, run.first_target, curve)


@torch.no_grad()
def _collect(model, venv, expert, T: int, beta: float, seed: int, nominal_dt: float, time_aware: bool):
    """``T`` steps of all envs from a fresh reset; actions by the expert (prob. ``beta``) or the
    student (deterministic); every visited observation labelled with the expert's action."""
    N = venv.num_envs
    envs = venv.envs
    space = venv.single_action_space
    obs_np, info = venv.reset(seed=seed)
    start = np.ones(N, dtype=bool)
    dt_np = info_dt(info, N, nominal_dt)
    device = model.normalizer.mean.device
    state = tuple(s.to(device) for s in model.initial_state(N))
    obs = torch.zeros(T, N, model.obs_dim)
    starts = torch.zeros(T, N, dtype=torch.bool)
    dts = torch.zeros(T, N, 1)
    labels = []
    rng = np.random.default_rng(seed)
    for t in range(T):
        obs[t] = torch.from_numpy(np.asarray(obs_np, dtype=np.float32))
        starts[t] = torch.from_numpy(start)
        dts[t, :, 0] = torch.from_numpy(dt_np)
        expert_act = [expert(e) for e in envs]
        labels.append(np.asarray(expert_act, dtype=np.float32).reshape(N, -1))
        out, _, state = model(
            obs[t : t + 1].to(device),
            state,
            starts[t : t + 1].to(device),
            dts[t : t + 1].to(device) if time_aware else None,
        )
        student = model.deterministic(out[0]).cpu().numpy()
        use_expert = rng.random(N) < beta
        if isinstance(space, gym.spaces.Box):
            act = np.where(use_expert[:, None], np.stack(expert_act), np.clip(student, space.low, space.high))
            act = act.astype(space.dtype)
        else:
            act = np.where(use_expert, np.asarray(expert_act), student[:, 0].astype(np.int64))
        obs_np, _, term, trunc, info = venv.step(act)
        start = term | trunc
        dt_np = info_dt(info, N, nominal_dt)
    return {"obs": obs, "episode_start": starts, "dt": dts, "labels": torch.from_numpy(np.stack(labels))}


def _episodes(rollout: dict[str, torch.Tensor], window: int) -> list[dict[str, torch.Tensor]]:
    """Cut a ``[T, N]`` rollout into episode pieces of at most ``window`` steps, each trained
    from a zero state (short windows give many gradient steps per round; the student learns to
    settle from an uninformed state within a few steps)."""
    out = []
    T, N = rollout["episode_start"].shape
    for n in range(N):
        cuts = [*torch.nonzero(rollout["episode_start"][:, n]).flatten().tolist(), T]
        for a, b in itertools.pairwise(cuts):
            for w in range(a, b, window):
                out.append(
                    {k: v[w : min(b, w + window), n] for k, v in rollout.items() if k != "episode_start"}
                )
    return out


def _fit(model, optimizer, data, cfg, run, step, is_box: bool, time_aware: bool) -> float:
    """Supervised epochs over every episode collected so far; returns the last epoch's mean loss.

    Episodes are sorted by length and batched with their neighbours, padded at the end and run
    from a zero state through the plain fused kernel; padded steps are masked out of the loss.
    """
    model.train()
    group, device = run.dist, run.dist.device
    pieces = [p for rollout in data for p in _episodes(rollout, cfg.bc_window)]
    order = sorted(range(len(pieces)), key=lambda i: len(pieces[i]["obs"]))
    batches = [order[i : i + cfg.bc_batch_sequences] for i in range(0, len(order), cfg.bc_batch_sequences)]
    pad = nn.utils.rnn.pad_sequence
    padded = [{k: pad([pieces[i][k] for i in b]).to(device) for k in pieces[0]} for b in batches]
    masks = [pad([torch.ones(len(pieces[i]["obs"])) for i in b]).to(device) for b in batches]
    per_epoch = group.minimum(len(batches))  # every rank takes as many optimiser steps
    mean_loss = 0.0
    for _ in range(cfg.bc_epochs):
        losses = []
        for j in torch.randperm(len(batches)).tolist()[:per_epoch]:
            mb, mask = padded[j], masks[j]
            out, _, _ = model(
                mb["obs"],
                tuple(s.to(device) for s in model.initial_state(mb["obs"].shape[1])),
                None,
                mb["dt"] if time_aware else None,
                need_state=False,
            )
            loss = _bc_loss(model, out, mb["labels"], mask, is_box)
            check_finite(loss, run, step, "behaviour-cloning loss")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            group.average_gradients(model)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            losses.append(loss.item())
        mean_loss = float(np.mean(losses))
    return mean_loss


def _bc_loss(
    model, out: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, is_box: bool
) -> torch.Tensor:
    """Masked MSE in normalised action units (Box) or cross-entropy (Discrete), ``[T, B]`` steps."""
    if is_box:
        target = (labels - model.action_offset) / model.action_scale
        per_step = (out - target).pow(2).mean(-1)
    else:
        ce = nn.functional.cross_entropy(out.permute(1, 2, 0), labels[..., 0].T.long(), reduction="none")
        per_step = ce.T
    return (per_step * mask).sum() / mask.sum()
