"""Dynamics models: sequence vs step parity across resets, raw-unit inference, rollouts, rebuild."""

from __future__ import annotations

import pytest
import torch

from rnn_control.models import RecurrentDynamicsModel, WindowMLPDynamicsModel, build_model

T, B, OBS, ACT = 30, 4, 3, 2


def make(kind: str):
    torch.manual_seed(0)
    if kind == "window_mlp":
        model = WindowMLPDynamicsModel(OBS, ACT, window=5, hidden=[32])
    else:
        model = RecurrentDynamicsModel(OBS, ACT, cell=kind, hidden_size=16, num_layers=2, head_hidden=[16])
    obs, act = torch.randn(200, OBS) * 3 + 1, torch.randn(200, ACT)
    model.fit_normalizers(obs[:-1], act[:-1], obs[1:])
    return model.eval()


@pytest.mark.parametrize("kind", ["gru", "lstm", "rnn", "tgru", "window_mlp"])
@pytest.mark.parametrize("dense", [False, True], ids=["few-resets", "many-resets"])
def test_forward_matches_step_across_an_episode_reset(kind, dense):
    """Few reset times: the model's time-slab path; many: the core's packed path."""
    model = make(kind)
    obs, act = torch.randn(T, B, OBS), torch.randn(T, B, ACT)
    start = torch.rand(T, B, generator=torch.Generator().manual_seed(1)) < (0.3 if dense else 0.0)
    start[0] = True
    start[13] = True  # a new episode in the middle of the sequence for every env
    start[7, 1] = True
    mean, log_std, state = model(obs, act, None, start)
    s = model.initial_state(B)
    means = []
    for t in range(T):
        s = model.reset_state(s, start[t])
        m, _, s = model.step(obs[t], act[t], s)
        means.append(m)
    torch.testing.assert_close(torch.stack(means), mean, atol=1e-5, rtol=1e-5)
    for a, b in zip(s, state):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # the reset really forgets: after step 13 the output does not depend on what came before
    obs2 = obs.clone()
    obs2[:13] = torch.randn(13, B, OBS)
    mean2, _, _ = model(obs2, act, None, start)
    torch.testing.assert_close(mean2[13:], mean[13:], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(mean2[:13], mean[:13])
    assert log_std.min() >= model.log_std_min and log_std.max() <= model.log_std_max


@pytest.mark.parametrize("kind", ["gru", "window_mlp"])
def test_predict_inference_is_raw_units_and_rollout_feeds_predictions(kind):
    model = make(kind)
    obs, act = torch.randn(T, B, OBS), torch.randn(T, B, ACT)
    state = model.initial_state(B)
    for t in range(10):
        nxt, std, state = model.predict_inference(torch.cat([obs[t], act[t]], -1), state)
    m, ls, _ = model.step(obs[9], act[9], model.forward(obs[:9], act[:9])[2])
    scale = torch.sqrt(model.delta_norm.var + model.delta_norm.eps)
    torch.testing.assert_close(nxt, obs[9] + model.delta_norm.mean + m * scale)
    torch.testing.assert_close(std, torch.exp(ls) * scale)
    assert nxt.shape == (B, OBS) and std.shape == (B, OBS) and (std > 0).all()

    pred, pstd = model.rollout(obs[:10], act[:9], act[9:25])
    assert pred.shape == (16, B, OBS) and pstd.shape == (16, B, OBS)
    torch.testing.assert_close(pred[0], nxt)  # first open-loop step == one-step prediction
    # second step is fed the model's own first prediction, not the true observation
    _, _, s = model.forward(obs[:10], act[:10])
    m2, _, _ = model.step(pred[0], act[10], s)
    torch.testing.assert_close(pred[1], model.to_raw(pred[0], m2, torch.zeros_like(m2))[0])
    with pytest.raises(ValueError, match="one step fewer"):
        model.rollout(obs[:10], act[:10], act[10:12])


def test_rebuild_from_checkpoint_dict():
    model = make("lstm")
    ckpt = {"model_class": "RecurrentDynamicsModel", "model_state": model.state_dict(),
            "model_kwargs": {"obs_dim": OBS, "act_dim": ACT, "cell": "lstm", "hidden_size": 16,
                             "num_layers": 2, "head_hidden": [16]}}  # fmt: skip
    rebuilt = build_model(ckpt)
    x, a = torch.randn(5, 2, OBS), torch.randn(5, 2, ACT)
    torch.testing.assert_close(rebuilt(x, a)[0], model(x, a)[0])
    torch.testing.assert_close(rebuilt.obs_norm.mean, model.obs_norm.mean)


def test_constant_observation_entries_are_predicted_unchanged_and_ignored_by_the_loss():
    torch.manual_seed(0)
    model = RecurrentDynamicsModel(3, 1, "gru", 8)
    obs = torch.randn(100, 3)
    obs[:, 2] = 0.7  # e.g. a target position: constant within the data
    model.fit_normalizers(obs[:-1], torch.randn(99, 1), obs[1:])
    assert model.delta_active.tolist() == [1.0, 1.0, 0.0]
    pred, std = model.rollout(obs[:5, None], torch.randn(4, 1, 1), torch.randn(20, 1, 1))
    assert torch.all(pred[..., 2] == 0.7) and torch.all(std[..., 2] == 0)
    mean, log_std, _ = model(obs[:10, None], torch.randn(10, 1, 1))
    target = model.target(obs[:10, None], obs[1:11, None])
    off = target.clone()
    off[..., 2] += 100.0  # errors on the constant entry do not count
    mask = torch.ones(10, 1, dtype=torch.bool)
    torch.testing.assert_close(model.loss(mean, log_std, off, mask), model.loss(mean, log_std, target, mask))
