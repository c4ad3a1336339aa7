"""Policy-training benchmarks beyond PendulumNoVel (results go to BENCHMARKS.md):

- ``cartpole``: CartPoleNoVel (sim/cartpole_novel.yaml) with PPO until the deterministic
  evaluation return reaches 475; also DAgger from the full-state LQR expert.
- ``mujoco``: InvertedPendulum-v5 with velocities masked: recurrent (GRU) vs MLP policy, same
  PPO settings and env-step budget.
- ``sim2real``: latency + dt jitter + domain randomisation: time-aware GRU (tgru) vs plain GRU,
  same budget, each evaluated with the training jitter (+/-30 %) and with twice that (+/-60 %,
  sim/inverted_pendulum_sim2real_wide_jitter.yaml).

    python bench/bench_ppo_tasks.py --task all [--steps-scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from rnn_control.models import build_model
from rnn_control.scenario import load_scenario
from rnn_control.train.common.checkpoint import load_checkpoint
from rnn_control.train.policy.algorithms import train_policy
from rnn_control.train.policy.evaluate import evaluate_policy

EVAL_SEED = 5000


def train(name: str, overrides: dict, label: str) -> dict:
    sc = load_scenario(name, overrides)
    run_dir = Path(tempfile.mkdtemp(prefix="bench_"))
    res = train_policy(sc, run_dir, progress=False, tensorboard=False)
    model = build_model(load_checkpoint(res.checkpoint))
    out = {
        "label": label,
        "steps": res.steps,
        "train_time_s": round(res.train_time_s, 1),
        "steps_per_s": round(res.steps / res.train_time_s),
        "first_target": res.first_target,
        "final_return": round(res.final_eval_return, 1),
        "final_std": round(res.final_eval_std, 1),
        "_model": model,
        "_scenario": sc,
    }
    shutil.rmtree(run_dir, ignore_errors=True)
    print(json.dumps({k: v for k, v in out.items() if not k.startswith("_")}), flush=True)
    return out


def scaled(steps: int, scale: float) -> int:
    return int(steps * scale)


def cartpole(scale: float) -> list[dict]:
    ppo = train(
        "cartpole_novel",
        {
            "policy": {
                "total_steps": scaled(200_000, scale),
                "target_return": 475,
                "stop_at_target": True,
                "eval_every": 5000,
            }
        },
        "PPO gru",
    )
    dagger = train(
        "cartpole_novel",
        {
            "policy": {
                "algorithm": "dagger",
                "total_steps": 8000,
                "dagger_iterations": 3,
                "bc_epochs": 30,
                "num_envs": 8,
                "learning_rate": 0.003,
                "target_return": 475,
            }
        },
        "DAgger gru",
    )
    return [ppo, dagger]


def mujoco(scale: float) -> list[dict]:
    steps = scaled(150_000, scale)
    rec = train("inverted_pendulum_novel", {"policy": {"total_steps": steps}}, "recurrent (gru)")
    mlp = train("inverted_pendulum_novel", {"policy": {"total_steps": steps, "architecture": "mlp"}}, "MLP")
    return [rec, mlp]


def sim2real(scale: float) -> list[dict]:
    steps = scaled(200_000, scale)
    results = []
    for cell in ("tgru", "gru"):
        r = train(
            "inverted_pendulum_sim2real", {"model": {"cell": cell}, "policy": {"total_steps": steps}}, cell
        )
        for deploy in ("inverted_pendulum_sim2real", "inverted_pendulum_sim2real_wide_jitter"):
            ev = evaluate_policy(
                r["_model"], load_scenario(deploy).env, episodes=20, seed=EVAL_SEED, nominal_dt=0.04
            )
            r[f"eval_{deploy}"] = f"{ev.mean:.1f} +/- {ev.std:.1f}"
        print(json.dumps({k: v for k, v in r.items() if not k.startswith("_")}), flush=True)
        results.append(r)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=("cartpole", "mujoco", "sim2real", "all"), default="all")
    p.add_argument("--steps-scale", type=float, default=1.0, help="multiply the step budgets")
    p.add_argument("--out", default=None, help="write results as JSON here")
    args = p.parse_args()
    tasks = ["cartpole", "mujoco", "sim2real"] if args.task == "all" else [args.task]
    results = {t: globals()[t](args.steps_scale) for t in tasks}
    if args.out:
        clean = {
            t: [{k: v for k, v in r.items() if not k.startswith("_")} for r in rs]
            for t, rs in results.items()
        }
        Path(args.out).write_text(json.dumps(clean, indent=1))


if __name__ == "__main__":
    main()
