"""Recurrent PPO on real envs: smoke, checkpoint contract, resume, NaN handling, space checks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest
import torch

from rnn_control.envs import register_wrapper
from rnn_control.errors import CheckpointError, TrainingError
from rnn_control.models import build_model
from rnn_control.scenario import load_scenario
from rnn_control.train.common.checkpoint import load_checkpoint
from rnn_control.train.policy.ppo import train_ppo
from tests.comparing import identical

TINY = {
    "total_steps": 1024,
    "num_envs": 4,
    "rollout_steps": 64,
    "chunk_length": 16,
    "num_minibatches": 2,
    "epochs": 2,
    "eval_every": 0,
    "eval_episodes": 2,
    "checkpoint_every": 512,
}


def tiny(name: str, **policy) -> object:
    return load_scenario(name, {"policy": {**TINY, **policy}, "model": {"hidden_size": 16}})


def test_ppo_smoke_writes_a_contract_checkpoint_and_resumes(tmp_path):
    sc = tiny("pendulum_novel")
    res = train_ppo(sc, tmp_path, progress=False, tensorboard=False)
    assert res.steps == 1024 and math.isfinite(res.final_eval_return)
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt", kind="policy")
    for key in ("config", "model_class", "model_kwargs", "model_state", "spaces", "control_period", "step"):
        assert key in ckpt
    assert ckpt["spaces"]["observation"]["shape"] == [2]
    assert ckpt["spaces"]["action"] == {"type": "box", "shape": [1], "low": [-2.0], "high": [2.0]}
    assert ckpt["control_period"] == pytest.approx(0.05)
    assert ckpt["model_state"]["normalizer.count"] > 0  # normaliser statistics travel with it
    model = build_model(ckpt)
    action, state = model.act_inference(torch.zeros(1, 2), model.core.initial_state(1))
    assert action.shape == (1, 1) and state[0].shape == (1, 1, 16)
    for row in (tmp_path / "metrics.csv").read_text().splitlines()[1:]:
        assert all(math.isfinite(float(v)) for v in row.split(",") if v)
    assert (tmp_path / "learning_curve.png").stat().st_size > 1000

    # Without --resume an existing run is not overwritten; with it, training continues.
    with pytest.raises(CheckpointError, match="--resume"):
        train_ppo(sc, tmp_path, progress=False, tensorboard=False)
    # Resuming restores model, optimiser, reward scaler and every RNG exactly: resumed with nothing
    # left to train, the run writes back the very state it loaded.
    written = load_checkpoint(tmp_path / "checkpoint.pt")
    train_ppo(sc, tmp_path, resume=True, progress=False, tensorboard=False)
    rewritten = load_checkpoint(tmp_path / "checkpoint.pt")
    for key in ("model_state", "optimizer", "reward_scaler", "rng", "step", "iteration"):
        assert identical(written[key], rewritten[key]), key
    assert written["optimizer"]["state"], "the optimiser has moments to restore"
    more = tiny("pendulum_novel", total_steps=2048)
    res2 = train_ppo(more, tmp_path, resume=True, progress=False, tensorboard=False)
    assert res2.steps == 2048
    assert load_checkpoint(tmp_path / "checkpoint.pt")["iteration"] == 8
    steps = [int(r.split(",")[0]) for r in (tmp_path / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 2048


def test_resume_refuses_a_changed_observation_space(tmp_path):
    train_ppo(tiny("pendulum_novel", total_steps=256), tmp_path, progress=False, tensorboard=False)
    full_obs = load_scenario(
        "pendulum_novel", {"policy": TINY, "model": {"hidden_size": 16}, "env": {"wrappers": []}}
    )
    with pytest.raises(CheckpointError, match="observation space changed"):
        train_ppo(full_obs, tmp_path, resume=True, progress=False, tensorboard=False)
    bigger = load_scenario("pendulum_novel", {"policy": TINY, "model": {"hidden_size": 32}})
    with pytest.raises(CheckpointError, match="hidden_size"):
        train_ppo(bigger, tmp_path, resume=True, progress=False, tensorboard=False)


@dataclass
class NanRewardParams:
    after: int = 100


@register_wrapper("test_nan_reward", NanRewardParams)
class NanReward(gym.Wrapper):
    """Test helper: rewards become NaN after ``after`` steps of this env (a diverging simulator)."""

    def __init__(self, env, after: int = 100):
        super().__init__(env)
        self.after, self.count = after, 0

    def step(self, action):
        obs, r, te, tr, info = self.env.step(action)
        self.count += 1
        return obs, (float("nan") if self.count > self.after else r), te, tr, info


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    sc = load_scenario(
        "pendulum_novel",
        {
            "policy": {**TINY, "total_steps": 4096},
            "model": {"hidden_size": 16},
            "env": {"wrappers": [{"mask_velocity": {}}, {"test_nan_reward": {"after": 300}}]},
        },
    )
    with pytest.raises(TrainingError, match=r"non-finite loss .* at step \d+.*last good checkpoint") as err:
        train_ppo(sc, tmp_path, progress=False, tensorboard=False)
    # NaN from env step 301 on: inside the 5th rollout of 64 steps x 4 envs (env steps 1025..1280).
    assert "step 1280" in str(err.value)
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 1024  # checkpoints every 512 steps: the one before the NaN is kept
    assert all(torch.isfinite(v).all() for v in ckpt["model_state"].values() if v.is_floating_point())


def test_ppo_discrete_actions_and_mlp_and_time_aware_cell(tmp_path):
    res = train_ppo(tiny("cartpole_novel"), tmp_path / "cartpole", progress=False, tensorboard=False)
    ckpt = load_checkpoint(res.checkpoint)
    assert ckpt["spaces"]["action"] == {"type": "discrete", "n": 2}
    model = build_model(ckpt)
    a, _ = model.act_inference(torch.zeros(3, 2), model.core.initial_state(3))
    assert a.shape == (3, 1) and set(a.flatten().tolist()) <= {0.0, 1.0}

    res = train_ppo(
        tiny("inverted_pendulum_novel", architecture="mlp"),
        tmp_path / "mlp",
        progress=False,
        tensorboard=False,
    )
    assert load_checkpoint(res.checkpoint)["model_class"] == "MlpActorCritic"

    res = train_ppo(
        tiny("inverted_pendulum_sim2real", total_steps=256),
        tmp_path / "tgru",
        progress=False,
        tensorboard=False,
    )
    ckpt = load_checkpoint(res.checkpoint)
    model = build_model(ckpt)
    assert model.core.cell == "tgru" and ckpt["control_period"] == pytest.approx(0.04)
    a1, _ = model.act_inference(torch.ones(1, 2), model.core.initial_state(1), torch.tensor([[0.02]]))
    a2, _ = model.act_inference(torch.ones(1, 2), model.core.initial_state(1), torch.tensor([[0.06]]))
    assert not torch.allclose(a1, a2)  # the time-aware policy uses dt


@pytest.mark.slow
def test_ppo_learns_cartpole_without_velocities(tmp_path):
    """A short run must clearly beat the untrained policy (~10-40 steps balanced). ~30 s, so slow;
    the default run has recurrent PPO learning a memory task in test_recurrence_helps.py and
    discrete actions in test_ppo_discrete_actions_and_mlp_and_time_aware_cell."""
    sc = load_scenario("cartpole_novel", {"policy": {"total_steps": 30_000, "eval_every": 0}})
    res = train_ppo(sc, tmp_path, progress=False, tensorboard=False)
    assert res.final_eval_return > 150, res
    assert np.isfinite(res.train_time_s)


def test_the_best_evaluation_is_kept_in_best_pt(tmp_path):
    """PPO can collapse late (Hopper did, from 3307 to 993): the weights of the best periodic
    evaluation are kept in best.pt, a policy checkpoint that evaluates to that return and exports."""
    from rnn_control.envs.timing import control_period
    from rnn_control.export.exporter import ExportOptions, export_checkpoint
    from rnn_control.train.policy.evaluate import evaluate_policy

    sc = tiny("pendulum_novel", total_steps=2048, eval_every=256)
    train_ppo(sc, tmp_path, progress=False, tensorboard=False)
    rows = [r.split(",") for r in (tmp_path / "metrics.csv").read_text().splitlines()]
    col = rows[0].index("eval_return")
    evals = [(int(r[0]), float(r[col])) for r in rows[1:] if r[col]]
    assert len(evals) >= 4
    best = load_checkpoint(tmp_path / "best.pt", kind="policy")
    step, ret = max(evals, key=lambda e: e[1])
    assert best["best_eval"]["step"] == step and best["best_eval"]["return"] == pytest.approx(ret, abs=1e-3)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["best_eval"] == best["best_eval"]
    from rnn_control.envs import make_env

    env = make_env(sc.env)
    again = evaluate_policy(build_model(best), sc.env, sc.policy.eval_episodes, seed=sc.seed + 100_000,
                            nominal_dt=control_period(env) or sc.model.nominal_dt)  # fmt: skip
    env.close()
    assert again.mean == pytest.approx(ret, abs=1e-3)
    out = export_checkpoint(tmp_path / "best.pt", tmp_path / "best.onnx", ExportOptions(parity_steps=20))
    assert out.path.is_file()
