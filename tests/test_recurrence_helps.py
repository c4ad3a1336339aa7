"""The "recurrence helps" claims, cheaply, in the default run (seconds each): on tiny tasks that
need memory, the recurrent model learns them with the product's trainers and the feed-forward
baseline cannot, by construction. The margins are wide, yet the checks fail if memory is broken
(no state carried between ticks, no gradient through time). The full-size versions of both
claims (Pendulum, InvertedPendulum) are ``-m slow``: test_dynamics_quality.py, test_ppo_slow.py.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from rnn_control.scenario import load_scenario
from rnn_control.train.dynamics.rollouts import EpisodeDataset
from rnn_control.train.dynamics.trainer import DynamicsTrainer
from rnn_control.train.policy.ppo import train_ppo

# ------------------------------------------------------------ dynamics: GRU vs the window MLP

T, RECALL, WINDOW = 16, 12, 8  # steps per episode; the cue of step 0 returns at step 12; MLP window


def _recall_episodes(n: int, seed: int) -> EpisodeDataset:
    """Observations ``[cue, t / T]``: the cue (+1 or -1, alternating by episode) is seen at step 0,
    is 0 after, and is the observation again at step RECALL; actions are noise. Predicting that
    step needs what happened RECALL steps earlier; a clock says when it comes."""
    rng = np.random.default_rng(seed)
    obs, act, nxt = [], [], []
    for e in range(n):
        o = np.zeros((T + 1, 2))
        o[:, 1] = np.arange(T + 1) / T
        o[0, 0] = o[RECALL, 0] = 1.0 if e % 2 == 0 else -1.0
        obs.append(o[:-1])
        nxt.append(o[1:])
        act.append(rng.uniform(-1.0, 1.0, (T, 1)))
    start = np.zeros(n * T, dtype=bool)
    start[::T] = True
    last = np.zeros(n * T, dtype=bool)
    last[T - 1 :: T] = True
    return EpisodeDataset(np.concatenate(obs), np.concatenate(act), np.concatenate(nxt), start,
                          np.zeros(n * T, dtype=bool), last)  # fmt: skip


def _recall_rmse(model, data: EpisodeDataset) -> float:
    """RMSE of the predicted cue at the recall step, stepping each held-out episode from its start
    one tick at a time (the deployment path, ``predict_inference``)."""
    errors = []
    model.eval()
    with torch.no_grad():
        for i in range(data.num_episodes):
            o, a = data.episode(i)
            state = model.initial_state(1)
            for t in range(RECALL):
                x = torch.as_tensor(np.concatenate([o[t], a[t]]), dtype=torch.float32).view(1, -1)
                mean, _, state = model.predict_inference(x, state)
            errors.append(float(mean[0, 0]) - o[RECALL, 0])
    return float(np.sqrt(np.mean(np.square(errors))))


def test_a_gru_dynamics_model_remembers_what_the_window_mlp_cannot_see(tmp_path):
    """400 updates each, the same data. The window MLP sees the last 8 steps, none of which tells
    the cue, and the held-out cues are balanced: its recall RMSE is >= 1 whatever it learns. The
    GRU carries the cue in its state (0.04-0.35 over seeds 0-3)."""
    data = (_recall_episodes(64, seed=0), _recall_episodes(8, seed=100))
    rmse = {}
    for kind in ("recurrent", "window_mlp"):
        over = {"seed": 0, "model": {"cell": "gru", "hidden_size": 32},
                "dynamics": {"model_type": kind, "window": WINDOW, "mlp_hidden": [64, 64],
                             "total_updates": 400, "batch_size": 16, "chunk_length": T, "burn_in": 0,
                             "lr": 1e-2, "loss": "mse", "checkpoint_every": 10**6, "log_every": 10**6,
                             "eval_horizons": [2], "monitor_window": 4}}  # fmt: skip
        trainer = DynamicsTrainer(load_scenario("pendulum_novel", over), tmp_path / kind, data=data,
                                  progress=False, tensorboard=False)  # fmt: skip
        trainer.train()
        rmse[kind] = _recall_rmse(trainer.model, trainer.heldout_data)
    assert rmse["window_mlp"] >= 0.99, rmse  # by construction (see the docstring)
    assert rmse["recurrent"] < 0.6, rmse


# ------------------------------------------------------------- recurrent PPO vs an MLP policy


class CueRecall(gym.Env):
    """Observation ``[cue, 1]`` at the first step, ``[0, 0]`` after. Every step from the second on
    pays ``cue * action`` (action in [-1, 1]): 5 per episode for a policy that remembers the
    cue, and 0 on average (exactly 0 over an even number of episodes, the cue alternating) for one
    that sees only the current observation, which after the first step never varies."""

    STEPS = 6

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.episodes = 0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.cue = 1.0 if self.episodes % 2 == 0 else -1.0
        self.episodes += 1
        self.t = 0
        return np.array([self.cue, 1.0], np.float32), {}

    def step(self, action):
        self.t += 1
        reward = self.cue * float(np.clip(action[0], -1.0, 1.0)) if self.t >= 2 else 0.0
        return np.zeros(2, np.float32), reward, self.t >= self.STEPS, False, {}


ENV_ID = "rnn_control_test/CueRecall-v0"


def test_recurrent_ppo_remembers_a_cue_an_mlp_policy_cannot(tmp_path):
    """4096 env steps each (~3 s). Recurrent PPO reaches the maximum, 5.0, on seeds 0-3; the MLP
    policy's deterministic evaluation over 20 episodes is exactly 0 by construction."""
    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point=CueRecall)
    returns = {}
    for arch in ("recurrent", "mlp"):
        over = {
            "seed": 0,
            "env": {"id": ENV_ID, "wrappers": [], "num_envs": 8, "max_episode_steps": None},
            "io": {"observation": [], "action": []},
            "model": {"cell": "gru", "hidden_size": 16},
            "policy": {"architecture": arch, "total_steps": 4096, "num_envs": 8, "rollout_steps": 32,
                       "chunk_length": 16, "num_minibatches": 2, "epochs": 4, "learning_rate": 3e-3,
                       "anneal_lr": False, "gamma": 0.9, "gae_lambda": 0.9, "init_log_std": -0.5,
                       "head_hidden": [32], "shared_core": True, "eval_every": 0, "eval_episodes": 20,
                       "checkpoint_every": 10**9, "target_return": None},
        }  # fmt: skip
        result = train_ppo(load_scenario("pendulum_novel", over), tmp_path / arch, progress=False,
                           tensorboard=False)  # fmt: skip
        returns[arch] = result.final_eval_return
    assert abs(returns["mlp"]) < 0.5, returns
    assert returns["recurrent"] > 4.0, returns
