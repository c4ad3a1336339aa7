"""Asymmetric actor-critic: the PPO critic reads the simulator's full observation in training
(the privileged_obs wrapper), the actor and the exported bundle only what the robot measures."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import onnxruntime as ort
import pytest
import torch

from rnn_control.envs.factory import make_env
from rnn_control.errors import ConfigError
from rnn_control.export.exporter import export_checkpoint
from rnn_control.models.policy import RecurrentActorCritic
from rnn_control.scenario import load_scenario
from rnn_control.train.common.checkpoint import load_checkpoint
from rnn_control.train.policy.ppo import train_ppo

IMU_TERMS = [  # the IMU scenario's observation wrappers, without its privileged observation
    w for w in load_scenario("half_cheetah_imu").to_dict()["env"]["wrappers"] if "privileged_obs" not in w
]
TINY = {
    "total_steps": 512, "num_envs": 2, "rollout_steps": 64, "chunk_length": 16, "num_minibatches": 2,
    "epochs": 1, "eval_every": 0, "eval_episodes": 1, "checkpoint_every": 512, "device": "cpu",
    "critic_obs": "privileged", "shared_core": False,
}  # fmt: skip


def privileged_cheetah(**policy):
    return load_scenario(
        "half_cheetah_imu",
        {
            "env": {"max_episode_steps": 50, "wrappers": [{"privileged_obs": {}}, *IMU_TERMS]},
            "model": {"hidden_size": 16},
            "policy": {**TINY, "head_hidden": [16], **policy},
        },
    )


def test_the_privileged_observation_is_the_simulators_own_while_the_policy_sees_the_imu():
    sc = privileged_cheetah()
    env, plain = make_env(sc.env), gym.make("HalfCheetah-v5", max_episode_steps=50)
    obs, info = env.reset(seed=3)
    ref, _ = plain.reset(seed=3)
    assert obs.shape == (11,) and info["privileged_obs"].shape == (17,)
    np.testing.assert_array_equal(info["privileged_obs"], ref.astype(np.float32))
    action = np.full(6, 0.3, dtype=np.float32)
    for _ in range(5):
        obs, *_, info = env.step(action)
        ref, *_ = plain.step(action)
    np.testing.assert_array_equal(info["privileged_obs"], ref.astype(np.float32))  # velocities included
    assert not np.allclose(obs[: min(11, 17)], ref[:11])  # the policy's own observation is not it


def test_the_critic_reads_the_privileged_entries_and_the_actor_does_not():
    torch.manual_seed(0)
    m = RecurrentActorCritic(
        4, 2, "box", [-1, -1], [1, 1], hidden_size=8, shared_core=False, privileged_dim=3
    )
    obs = torch.randn(5, 2, 4)
    a, b = torch.cat([obs, torch.randn(5, 2, 3)], -1), torch.cat([obs, torch.randn(5, 2, 3)], -1)
    out_a, value_a, _ = m(a, m.initial_state(2))
    out_b, value_b, _ = m(b, m.initial_state(2))
    assert torch.equal(out_a, out_b)  # the actor: the policy observation only
    assert not torch.allclose(value_a, value_b)  # the critic: the privileged entries too
    out_actor_only, _, _ = m(obs, m.initial_state(2))  # evaluation feeds the actor's input alone
    assert torch.equal(out_actor_only, out_a)
    with pytest.raises(ValueError, match="needs its own core"):
        RecurrentActorCritic(4, 2, "box", [-1, -1], [1, 1], shared_core=True, privileged_dim=3)


def test_ppo_with_a_privileged_critic_trains_and_exports_a_bundle_that_reads_only_the_imu(tmp_path):
    res = train_ppo(privileged_cheetah(), tmp_path / "run", progress=False, tensorboard=False)
    ckpt = load_checkpoint(res.checkpoint, kind="policy")
    assert ckpt["model_kwargs"]["privileged_dim"] == 17
    assert ckpt["spaces"]["privileged_observation"] == {"shape": [17]}
    state = ckpt["model_state"]
    assert state["critic_core.rnn.weight_ih_l0"].shape[1] == 11 + 17  # the critic's input
    assert state["core.rnn.weight_ih_l0"].shape[1] == 11  # the actor's input
    assert int(state["critic_normalizer.count"]) == 512  # its statistics are kept too
    exported = export_checkpoint(res.checkpoint, tmp_path / "policy.onnx")
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    obs_input = session.get_inputs()[0]
    assert obs_input.shape[-1] == 11  # the bundle reads what the robot measures, nothing privileged
    assert exported.metadata.parity["torch_vs_onnxruntime"]["max_abs_diff_output"] < 1e-4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"env": {"wrappers": IMU_TERMS}}, "list the privileged_obs wrapper first in env.wrappers"),
        ({"policy": {"shared_core": True}}, "critic_obs: privileged needs the critic's own core"),
    ],
)
def test_a_privileged_critic_without_its_wrapper_or_its_own_core_is_refused(tmp_path, change, message):
    over = {"model": {"hidden_size": 16}, "policy": {**TINY, **change.get("policy", {})}}
    if "env" in change:
        over["env"] = change["env"]
    with pytest.raises(ConfigError, match=message):
        train_ppo(load_scenario("half_cheetah_imu", over), tmp_path, progress=False, tensorboard=False)
