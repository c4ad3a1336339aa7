"""The peer for the learning benchmark (issue 11): stable-baselines3 PPO (MLP) on full-observation
HalfCheetah-v5, with rl-baselines3-zoo's tuned HalfCheetah settings (hyperparams/ppo.yml,
"HalfCheetah-v3": 1 env, VecNormalize on observations and rewards, n_steps 512, batch 64, 20
epochs, lr 2.0633e-5, ...). Needs the ``bench`` extra (``pip install -e .[bench]``).

    PYTHONPATH=. python bench/bench_sb3_halfcheetah.py --steps 1000000 --seed 0

Prints one JSON line: the deterministic return over ``--episodes`` evaluation episodes (seeds
5000 + k) and the training wall-clock. Figures: BENCHMARKS.md ("Learning benchmark").
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import torch
from torch import nn

RL_ZOO_HALFCHEETAH = {
    "n_steps": 512,
    "batch_size": 64,
    "gamma": 0.98,
    "learning_rate": 2.0633e-05,
    "ent_coef": 0.000401762,
    "clip_range": 0.1,
    "n_epochs": 20,
    "gae_lambda": 0.92,
    "max_grad_norm": 0.8,
    "vf_coef": 0.58096,
}
POLICY_KWARGS = {
    "log_std_init": -2,
    "ortho_init": False,
    "activation_fn": nn.ReLU,
    "net_arch": {"pi": [256, 256], "vf": [256, 256]},
}


def main() -> int:
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    venv = VecNormalize(DummyVecEnv([lambda: gym.make("HalfCheetah-v5")]), gamma=RL_ZOO_HALFCHEETAH["gamma"])
    venv.seed(args.seed)
    model = PPO("MlpPolicy", venv, seed=args.seed, policy_kwargs=POLICY_KWARGS, device="cpu",
                **RL_ZOO_HALFCHEETAH)  # fmt: skip
    t0 = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    train_s = time.perf_counter() - t0
    venv.training, venv.norm_reward = False, False
    returns = []
    for k in range(args.episodes):
        env = gym.make("HalfCheetah-v5")
        obs, _ = env.reset(seed=5000 + k)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(venv.normalize_obs(obs[None]), deterministic=True)
            obs, reward, term, trunc, _ = env.step(action[0])
            total += float(reward)
            done = term or trunc
        returns.append(total)
    print(json.dumps({
        "peer": "stable-baselines3 PPO (MLP 256x256, rl-zoo HalfCheetah settings)",
        "steps": args.steps, "seed": args.seed,
        "eval_return": round(float(np.mean(returns)), 1), "eval_std": round(float(np.std(returns)), 1),
        "train_time_s": round(train_s, 1), "steps_per_s": round(args.steps / train_s),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
