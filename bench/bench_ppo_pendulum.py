"""PendulumNoVel: rnn_control recurrent PPO vs sb3-contrib RecurrentPPO (rl-zoo3 hyperparameters).

Both train on the same env (Pendulum-v1 with the angular velocity masked, built by
rnn_control.envs.make_env from sim/pendulum_novel.yaml) on this machine, one after the other.
Every ``--eval-every`` env steps both are evaluated deterministically on the same 10 episode
seeds (recurrent state reset at each episode start). Reported: training wall-clock until the
mean evaluation return first reaches the threshold (evaluation time excluded for both), the
final return, env steps per second, and the ratios.

    python bench/bench_ppo_pendulum.py                 # both, sb3 capped at --sb3-cap seconds
    python bench/bench_ppo_pendulum.py --which sb3     # one side only (JSON to --out)

rl-zoo3 hyperparams/ppo_lstm.yml, PendulumNoVel-v1: n_envs 4, n_timesteps 1e5, MlpLstmPolicy,
n_steps 1024, gae_lambda 0.95, gamma 0.9, n_epochs 10, ent_coef 0.0, learning_rate 1e-3,
clip_range 0.2, use_sde True, sde_sample_freq 4 (batch_size: RecurrentPPO default 128).
Published: -217.9 +/- 140.1 after 100k steps.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rnn_control.envs import make_env
from rnn_control.scenario import load_scenario

SEEDS = list(range(1000, 1010))


def run_ours(args) -> dict:
    from rnn_control.train.policy.ppo import train_ppo

    sc = load_scenario(
        "pendulum_novel",
        {"policy": {"target_return": args.threshold, "eval_every": args.eval_every, "eval_episodes": 10}},
    )
    run_dir = Path(tempfile.mkdtemp(prefix="bench_ppo_"))
    t0 = time.perf_counter()
    res = train_ppo(sc, run_dir, progress=False, tensorboard=False)
    wall = time.perf_counter() - t0
    import csv

    curve = [
        (int(r["step"]), float(r["eval_return"]))
        for r in csv.DictReader((run_dir / "metrics.csv").read_text().splitlines())
        if r["eval_return"]
    ]
    # Final policy on the same 10 episode seeds as sb3's evaluation, and on 100 episodes.
    from rnn_control.models import build_model
    from rnn_control.train.common.checkpoint import load_checkpoint
    from rnn_control.train.policy.evaluate import evaluate_policy

    final = build_model(load_checkpoint(res.checkpoint))
    common = evaluate_policy(final, sc.env, episodes=10, seed=SEEDS[0])
    wide = evaluate_policy(final, sc.env, episodes=100, seed=0)
    shutil.rmtree(run_dir, ignore_errors=True)
    ft = res.first_target
    return {
        "name": "rnn_control PPO (GRU)",
        "steps": res.steps,
        "train_time_s": res.train_time_s,
        "wall_s_incl_eval": wall,
        "time_to_threshold_s": ft["time_s"] if ft else None,
        "steps_to_threshold": ft["step"] if ft else None,
        "final_return": res.final_eval_return,
        "final_std": res.final_eval_std,
        "final_return_sb3_seeds": f"{common.mean:.1f} +/- {common.std:.1f}",
        "final_return_100_episodes": f"{wide.mean:.1f} +/- {wide.std:.1f}",
        "steps_per_s": res.steps / res.train_time_s,
        "curve": curve,
        "settings": {k: v for k, v in sc.policy.__dict__.items()} | {"model": sc.model.__dict__},
    }


def run_sb3(args) -> dict:
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(1)
    env_cfg = load_scenario("pendulum_novel").env
    venv = DummyVecEnv([lambda: make_env(env_cfg) for _ in range(4)])
    venv.seed(0)
    model = RecurrentPPO(
        "MlpLstmPolicy",
        venv,
        n_steps=1024,
        gae_lambda=0.95,
        gamma=0.9,
        n_epochs=10,
        ent_coef=0.0,
        learning_rate=1e-3,
        clip_range=0.2,
        use_sde=True,
        sde_sample_freq=4,
        seed=0,
        device="cpu",
        verbose=0,
    )

    def evaluate() -> tuple[float, float]:
        rets = []
        for s in SEEDS:  # one env, one episode per seed (same seeds as ours)
            e = DummyVecEnv([lambda: make_env(env_cfg)])
            e.seed(s)
            r, _ = evaluate_policy(model, e, n_eval_episodes=1, deterministic=True)
            rets.append(r)
        return float(np.mean(rets)), float(np.std(rets))

    state = {"eval_time": 0.0, "next": args.eval_every, "first": None, "curve": [], "t0": time.perf_counter()}

    class Cb(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps >= state["next"]:
                state["next"] += args.eval_every
                t = time.perf_counter()
                m, _ = evaluate()
                state["eval_time"] += time.perf_counter() - t
                train_t = time.perf_counter() - state["t0"] - state["eval_time"]
                state["curve"].append((self.num_timesteps, m))
                if state["first"] is None and m >= args.threshold:
                    state["first"] = (self.num_timesteps, train_t)
                if train_t > args.sb3_cap:
                    return False
            return True

    model.learn(total_timesteps=args.sb3_steps, callback=Cb())
    train_time = time.perf_counter() - state["t0"] - state["eval_time"]
    m, sd = evaluate()
    return {
        "name": "sb3-contrib RecurrentPPO (LSTM, rl-zoo3)",
        "steps": int(model.num_timesteps),
        "train_time_s": train_time,
        "time_to_threshold_s": state["first"][1] if state["first"] else None,
        "steps_to_threshold": state["first"][0] if state["first"] else None,
        "final_return": m,
        "final_std": sd,
        "steps_per_s": model.num_timesteps / train_time,
        "curve": state["curve"],
        "capped": model.num_timesteps < args.sb3_steps,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--which", choices=("both", "ours", "sb3"), default="both")
    p.add_argument("--threshold", type=float, default=-250.0)
    p.add_argument("--eval-every", type=int, default=10_000)
    p.add_argument("--sb3-steps", type=int, default=100_000)
    p.add_argument("--sb3-cap", type=float, default=1800.0, help="stop sb3 after this many training seconds")
    p.add_argument("--out", default=None, help="write results as JSON here")
    args = p.parse_args()
    results = {}
    if args.which in ("both", "ours"):
        results["ours"] = run_ours(args)
        print(json.dumps({k: v for k, v in results["ours"].items() if k != "settings"}))
    if args.which in ("both", "sb3"):
        results["sb3"] = run_sb3(args)
        print(json.dumps(results["sb3"]))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, default=str))
    if "ours" in results and "sb3" in results:
        o, s = results["ours"], results["sb3"]
        print(f"{'':42s} {'time to ' + str(args.threshold):>16s} {'final return':>18s} {'steps/s':>9s}")
        for r in (o, s):
            tt = (
                f"{r['time_to_threshold_s']:.0f} s" if r["time_to_threshold_s"] is not None else "not reached"
            )
            print(
                f"{r['name']:42s} {tt:>16s} {r['final_return']:>8.1f} +/- {r['final_std']:5.1f} "
                f"{r['steps_per_s']:>9.0f}"
            )
        if o["time_to_threshold_s"] and s["time_to_threshold_s"]:
            print(f"speed-up to threshold: {s['time_to_threshold_s'] / o['time_to_threshold_s']:.1f}x")
        print(f"env steps/s ratio: {o['steps_per_s'] / s['steps_per_s']:.1f}x")


if __name__ == "__main__":
    main()
