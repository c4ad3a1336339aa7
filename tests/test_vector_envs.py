"""``env.vectorization: async`` (worker processes) reproduces ``sync`` exactly for a given seed:
the vector env step by step across autoresets, and a short PPO run (issue 15, item 3)."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
import torch

from rnn_control.envs.factory import make_vec_env
from rnn_control.scenario import load_scenario
from rnn_control.train.policy.ppo import train_ppo
from tests.comparing import identical


def _rollout(env_cfg, vectorization: str, steps: int) -> list:
    """Reset and step 3 envs with a fixed action sequence; every result, copied."""
    venv = make_vec_env(dataclasses.replace(env_cfg, vectorization=vectorization), 3, seed=7)
    try:
        space = venv.action_space
        actions = np.random.default_rng(0).uniform(space.low, space.high, (steps, *space.shape))
        record = [venv.reset(seed=7)]
        record += [venv.step(a.astype(space.dtype)) for a in actions]
        return [tuple(x.copy() if isinstance(x, np.ndarray) else x for x in r) for r in record]
    finally:
        venv.close()


@pytest.mark.parametrize(
    "scenario, max_steps",
    [
        ("half_cheetah_full", 5),  # joint-space wrapper; truncation every 5 steps
        ("inverted_pendulum_sim2real", 20),  # terminations, dt jitter (info["dt"]), latency, randomisation
    ],
)
def test_async_vector_env_steps_exactly_like_sync_across_autoresets(scenario, max_steps):
    env_cfg = load_scenario(scenario, {"env": {"max_episode_steps": max_steps}}).env
    sync, asyn = _rollout(env_cfg, "sync", 12), _rollout(env_cfg, "async", 12)
    ends = [r for r in sync[1:] if (r[2] | r[3]).any()]
    assert ends and all("final_obs" in r[4] for r in ends)  # the autoreset path was exercised
    for t, (s, a) in enumerate(zip(sync, asyn)):
        assert identical(s, a), f"step {t}: async differs from sync"


def _tiny_ppo(tmp_path, scenario: str, vectorization: str):
    overrides = {
        "env": {"vectorization": vectorization, "max_episode_steps": 40},  # truncation bootstraps
        "model": {"hidden_size": 16},
        "policy": {
            "total_steps": 512,
            "num_envs": 4,
            "rollout_steps": 64,
            "chunk_length": 16,
            "num_minibatches": 2,
            "epochs": 2,
            "eval_every": 0,
            "eval_episodes": 2,
        },
    }
    res = train_ppo(
        load_scenario(scenario, overrides), tmp_path / vectorization, progress=False, tensorboard=False
    )
    ckpt = torch.load(res.checkpoint, weights_only=False)
    with open(res.run_dir / "metrics.csv") as f:
        rows = [{k: v for k, v in r.items() if k not in ("time_s", "steps_per_s")} for r in csv.DictReader(f)]
    return res, ckpt, rows


@pytest.mark.parametrize("scenario", ["pendulum_novel", "half_cheetah_full"])
def test_ppo_with_async_envs_trains_exactly_like_sync(tmp_path, scenario):
    res_s, ck_s, rows_s = _tiny_ppo(tmp_path, scenario, "sync")
    res_a, ck_a, rows_a = _tiny_ppo(tmp_path, scenario, "async")
    assert ck_a["config"]["env"]["vectorization"] == "async"
    for key in ("model_state", "optimizer", "reward_scaler", "rng", "recent_returns", "step"):
        assert identical(ck_s[key], ck_a[key]), key
    assert ck_s["recent_returns"]  # episodes ended (and were bootstrapped) during the run
    assert rows_s == rows_a
    assert res_s.final_eval_return == res_a.final_eval_return
