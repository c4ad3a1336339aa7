"""Recurrent PPO, built for speed on a CPU.

- ``N`` envs in one vector env; the rollout runs the policy one tick at a time without autograd
  (``torch.no_grad``), numpy in and out.
- The rollout is cut into chunks of ``chunk_length`` steps with the recurrent state stored at each
  chunk start; each minibatch is a set of whole chunks replayed through the fused core kernel in
  one call (episode starts inside a chunk are handled by the core's packed reset path).
- GAE, bootstrapping of truncated episodes from ``info["final_obs"]``, observation normalisation
  (statistics updated after each update, inside the model), reward scaling by the running std of
  the discounted return, advantage normalisation, gradient clipping, linear lr annealing.
- A non-finite loss stops training with the step number; the last good checkpoint is kept.
- Under torchrun each rank steps its own ``N`` envs (its own seeds) and replays its own chunks;
  gradients are averaged over the ranks at every optimiser step, so one iteration trains on
  ``world_size * N * rollout_steps`` env steps (``policy.total_steps`` counts them all).
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rnn_control.envs.factory import make_vec_env
from rnn_control.envs.wrappers.privileged_obs import PRIVILEGED_KEY
from rnn_control.scenario import Scenario
from rnn_control.train.common.checkpoint import rng_state, set_rng_state
from rnn_control.train.common.distributed import Distributed, update_normalizer
from rnn_control.train.common.progress import Progress
from rnn_control.train.common.run import TrainResult
from rnn_control.train.policy.run import PolicyRun, check_finite
from rnn_control.train.policy.setup import info_dt
from rnn_control.train.policy.storage import RolloutStorage


class RewardScaler:
    """Divide rewards by the running std of the discounted return (as SB3's VecNormalize)."""

    def __init__(self, num_envs: int, gamma: float, enabled: bool = True) -> None:
        self.gamma, self.enabled = gamma, enabled
        self.ret = np.zeros(num_envs)
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return reward
        self.ret = self.ret * self.gamma + reward
        b_mean, b_var, n = self.ret.mean(), self.ret.var(), len(self.ret)
        delta, total = b_mean - self.mean, self.count + n
        self.mean += delta * n / total
        self.var = (self.var * self.count + b_var * n + delta**2 * self.count * n / total) / total
        self.count = total
        self.ret[done] = 0.0
        return reward / np.sqrt(self.var + 1e-8)

    def state_dict(self) -> dict[str, Any]:
        """The running statistics, for the checkpoint."""
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore the statistics :meth:`state_dict` returned."""
        self.mean, self.var, self.count = d["mean"], d["var"], d["count"]


def train_ppo(
    scenario: Scenario,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    tensorboard: bool = True,
) -> TrainResult:
    """Train ``scenario``'s policy with recurrent PPO in ``run_dir`` (see module docstring)."""
    run = PolicyRun(scenario, run_dir, resume=resume, tensorboard=tensorboard)
    cfg, group = run.cfg, run.dist
    device = group.device
    model: nn.Module = run.model
    model.train()
    N = cfg.num_envs or scenario.env.num_envs  # per rank
    T, L = cfg.rollout_steps, cfg.chunk_length
    if cfg.num_minibatches > N * T // L:
        raise run.fail(f"num_minibatches {cfg.num_minibatches} > sequences per rollout ({N * T // L})", 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, eps=1e-5)
    rewards = RewardScaler(N, cfg.gamma, cfg.normalize_reward)
    steps_per_iter = N * T * group.world_size
    num_iterations = max(1, -(-cfg.total_steps // steps_per_iter))
    step, iteration, train_time = 0, 0, 0.0
    recent_returns: deque[float] = deque(maxlen=20)
    if run.resumed is not None:
        ck, mine = run.resumed, run.rank_state
        optimizer.load_state_dict(ck["optimizer"])
        rewards.load_state_dict(mine["reward_scaler"])
        set_rng_state(mine["rng"])
        step, iteration, train_time = ck["step"], ck["iteration"], ck["train_time_s"]
        recent_returns.extend(mine.get("recent_returns", []))

    def save() -> None:
        run.save(
            step,
            rank_state={
                "reward_scaler": rewards.state_dict(),
                "rng": rng_state(),
                "recent_returns": list(recent_returns),
            },
            iteration=iteration,
            train_time_s=train_time,
            optimizer=optimizer.state_dict(),
        )

    env_seed = group.rank_seed(scenario.seed + iteration, N)  # the ranks' envs: seeds s .. s + W*N - 1
    venv = make_vec_env(scenario.env, N, seed=env_seed)
    act_space = venv.single_action_space
    is_box = isinstance(act_space, gym.spaces.Box)
    low, high = (act_space.low, act_space.high) if is_box else (None, None)
    act_dim = model.act_dim if is_box else 1
    time_aware = bool(getattr(model, "time_aware", False))
    privileged = model.privileged_dim > 0  # an asymmetric critic
    nominal_dt = run.nominal_dt

    obs_np, info = venv.reset(seed=env_seed)
    episode_start = np.ones(N, dtype=bool)
    dt_np = info_dt(info, N, nominal_dt)
    state = tuple(s.to(device) for s in model.initial_state(N))
    ep_return = np.zeros(N)
    storage = RolloutStorage(T, N, model.obs_dim + model.privileged_dim, act_dim, L, state, device=device)
    if run.resumed is None:
        save()  # step 0: there is always a good checkpoint to fall back to
    next_ckpt = (step // cfg.checkpoint_every + 1) * cfg.checkpoint_every
    next_eval = (step // cfg.eval_every + 1) * cfg.eval_every if cfg.eval_every else None
    bar = Progress(
        cfg.total_steps, f"ppo {scenario.name}", "step", initial=step, enabled=progress and group.is_main
    )
    last_eval = None

    while iteration < num_iterations and not run.target_reached():
        t_iter = time.perf_counter()
        if cfg.anneal_lr:
            for g in optimizer.param_groups:
                g["lr"] = cfg.learning_rate * (1.0 - iteration / num_iterations)
        # ---------------- rollout (no autograd) ----------------
        with torch.no_grad():
            for t in range(T):
                storage.store_state(t, state)
                obs_t = torch.from_numpy(_model_input(obs_np, info, privileged)).to(device)
                start_t = torch.from_numpy(episode_start).to(device)
                dt_t = torch.from_numpy(dt_np).view(1, N, 1).to(device) if time_aware else None
                out, value, state = model(obs_t[None], state, start_t[None], dt_t)
                out, value = out[0], value[0]
                if is_box:
                    action = out + model.log_std.exp() * torch.randn_like(out)
                    logp = model.log_prob(model.distribution(out), action)
                    env_act = np.clip(model.to_env_action(action).cpu().numpy(), low, high)
                else:
                    dist = model.distribution(out)
                    idx = dist.sample()
                    logp, action = dist.log_prob(idx), idx.unsqueeze(-1).float()
                    env_act = idx.cpu().numpy()
                obs_np, rew, term, trunc, info = venv.step(env_act)
                done = term | trunc
                ep_return += rew
                for j in np.flatnonzero(done):
                    recent_returns.append(float(ep_return[j]))
                ep_return[done] = 0.0
                r = rewards(np.asarray(rew, dtype=np.float64), done)
                bootstrap = trunc & ~term
                if bootstrap.any():
                    r = r + cfg.gamma * _final_values(
                        model, info, bootstrap, state, nominal_dt, time_aware, privileged
                    )
                storage.obs[t] = obs_t
                storage.episode_start[t] = start_t
                if time_aware:
                    storage.dt[t] = dt_t[0]
                storage.actions[t] = action
                storage.log_probs[t] = logp
                storage.values[t] = value
                storage.rewards[t] = torch.from_numpy(r.astype(np.float32))
                storage.dones[t] = torch.from_numpy(done.astype(np.float32))
                episode_start = done
                dt_np = info_dt(info, N, nominal_dt)
            dt_t = torch.from_numpy(dt_np).view(1, N, 1).to(device) if time_aware else None
            _, last_value, _ = model(
                torch.from_numpy(_model_input(obs_np, info, privileged)).to(device)[None],
                state,
                torch.from_numpy(episode_start).to(device)[None],
                dt_t,
            )
        storage.compute_gae(last_value[0], cfg.gamma, cfg.gae_lambda)
        step += steps_per_iter
        # ---------------- update ----------------
        stats = _update(model, optimizer, storage, cfg, run, step)
        for normalizer, part in model.normalizer_inputs(storage.obs):
            update_normalizer(group, normalizer, part)
        iteration += 1
        train_time += time.perf_counter() - t_iter
        # ---------------- bookkeeping ----------------
        train_return = _mean_return(group, recent_returns)
        row: dict[str, Any] = {
            "step": step,
            "iteration": iteration,
            "time_s": round(train_time, 3),
            "train_return": train_return,
            "lr": optimizer.param_groups[0]["lr"],
            "steps_per_s": round(steps_per_iter / (time.perf_counter() - t_iter)),
            **stats,
        }
        if (next_eval is not None and step >= next_eval) or iteration == num_iterations:
            if group.is_main:
                last_eval = run.evaluate(model, seed=scenario.seed + 100_000)
                run.note_eval(last_eval, step, train_time)
                row.update(eval_return=round(last_eval.mean, 3), eval_std=round(last_eval.std, 3))
            if next_eval is not None:
                next_eval = (step // cfg.eval_every + 1) * cfg.eval_every
        run.log.log(row)
        if step >= next_ckpt or iteration == num_iterations or run.target_reached():
            save()
            next_ckpt = (step // cfg.checkpoint_every + 1) * cfg.checkpoint_every
        post = {"return": f"{train_return:.1f}" if train_return is not None else "-"}
        if last_eval is not None:
            post["eval"] = f"{last_eval.mean:.1f}"
        bar.update(steps_per_iter, **post)
    bar.close()
    venv.close()
    if group.broadcast_object(last_eval is None):  # rank 0's view: the loop ended without evaluating
        if group.is_main:
            last_eval = run.evaluate(model, seed=scenario.seed + 100_000)
        save()
    curve = run.finish()
    mean, std = (last_eval.mean, last_eval.std) if last_eval is not None else (None, None)
    return TrainResult(run.run_dir, run.ckpt_path, step, train_time, mean, std, run.first_target, curve)


def _mean_return(group: Distributed, recent: deque[float]) -> float | None:
    """Mean return of the last finished training episodes of every rank (None before any)."""
    returns = [r for rank in group.gather_objects(list(recent)) for r in rank]
    return float(np.mean(returns)) if returns else None


def _model_input(obs: np.ndarray, info: dict[str, Any], privileged: bool) -> np.ndarray:
    """What the model reads: the observation, with the privileged one appended for an asymmetric
    critic (``info["privileged_obs"]``, from the privileged_obs wrapper)."""
    obs = np.asarray(obs, dtype=np.float32)
    if not privileged:
        return obs
    return np.concatenate([obs, np.asarray(info[PRIVILEGED_KEY], dtype=np.float32)], axis=-1)


def _final_values(model, info, mask, state, nominal_dt, time_aware, privileged=False) -> np.ndarray:
    """Value of the final observation of truncated episodes (for bootstrapping), 0 elsewhere."""
    idx = np.flatnonzero(mask)
    device = state[0].device if state else torch.device("cpu")
    final = np.stack([np.asarray(info["final_obs"][j], dtype=np.float32) for j in idx])
    if privileged:
        last = np.asarray(info["final_info"][PRIVILEGED_KEY], dtype=np.float32)[idx]
        final = np.concatenate([final, last], axis=-1)
    sub_state = tuple(s[:, torch.from_numpy(idx).to(device)] for s in state)
    dt = None
    if time_aware:
        fi = info.get("final_info", {})
        dt = torch.from_numpy(info_dt(fi, len(mask), nominal_dt)[idx]).view(1, -1, 1).to(device)
    _, v, _ = model(torch.from_numpy(final).to(device)[None], sub_state, None, dt)
    out = np.zeros(len(mask))
    out[idx] = v[0].cpu().numpy()
    return out


def _update(model, optimizer, storage: RolloutStorage, cfg, run: PolicyRun, step: int) -> dict[str, float]:
    """PPO epochs over minibatches of whole chunks; returns mean losses of the last epoch."""
    sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0}
    count = 0
    for _epoch in range(cfg.epochs):
        sums = dict.fromkeys(sums, 0.0)
        count = 0
        batches = list(storage.minibatches(cfg.num_minibatches))
        adv_stats = (
            _advantage_stats(run.dist, [mb["advantages"] for mb in batches])
            if cfg.normalize_advantage
            else [None] * len(batches)
        )
        for mb, adv_norm in zip(batches, adv_stats):
            dt = mb["dt"] if getattr(model, "time_aware", False) else None
            out, values, _ = model(mb["obs"], mb["state"], mb["episode_start"], dt, need_state=False)
            dist = model.distribution(out)
            logp = model.log_prob(dist, mb["actions"])
            log_ratio = logp - mb["log_probs"]
            ratio = log_ratio.exp()
            adv = mb["advantages"]
            if adv_norm is not None:
                adv = (adv - adv_norm[0]) / (adv_norm[1] + 1e-8)
            pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - cfg.clip_range, 1 + cfg.clip_range)).mean()
            v_loss = 0.5 * (values - mb["returns"]).pow(2).mean()
            entropy = model.entropy(dist).mean()
            loss = pg + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
            check_finite(loss, run, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            run.dist.average_gradients(model)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                kl = ((ratio - 1) - log_ratio).mean().item()
            sums["policy_loss"] += pg.item()
            sums["value_loss"] += v_loss.item()
            sums["entropy"] += entropy.item()
            sums["approx_kl"] += kl
            count += 1
        if cfg.target_kl is not None and run.dist.mean(sums["approx_kl"] / max(count, 1)) > cfg.target_kl:
            break  # every rank stops after the same epoch: on the mean KL over the ranks
    return {k: round(v / max(count, 1), 6) for k, v in sums.items()}


def _advantage_stats(group: Distributed, advantages: list[torch.Tensor]) -> list[tuple[float, float]]:
    """Mean and (unbiased) std of each minibatch's advantages, over the ranks: minibatch ``k`` of
    every rank together is one minibatch of the union, normalised as one process would normalise
    it (per rank, a small minibatch of a few chunks would lose each chunk's mean advantage).
    One all-reduce per epoch."""
    local = torch.tensor([[a.sum().item(), a.pow(2).sum().item(), a.numel()] for a in advantages],
                         dtype=torch.float64)  # fmt: skip
    total = group.sum(local)
    n = total[:, 2]
    mean = total[:, 0] / n
    var = ((total[:, 1] - n * mean**2) / (n - 1).clamp_min(1.0)).clamp_min(0.0)
    return list(zip(mean.tolist(), var.sqrt().tolist()))
