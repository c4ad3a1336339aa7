"""A dynamics bundle takes commands, as its `last_action/<i>` inputs say, even when its model was
trained on env actions of another unit: HalfCheetah's commands are joint torques (gear x ctrl), so
the exported graph maps them back to ctrl before the model. The dynamics monitor feeds it the
published commands and gets the model's predictions."""

from __future__ import annotations

import numpy as np
import torch

from rnn_control.envs import control_period, describe_env, make_env
from rnn_control.export.exporter import ExportOptions, export_checkpoint
from rnn_control.models import RecurrentDynamicsModel
from rnn_control.runtime import Stepper
from rnn_control.scenario import load_scenario
from rnn_control.train.common.checkpoint import save_checkpoint


def test_joint_space_dynamics_bundle_takes_torques_and_predicts_like_the_model_on_ctrl(tmp_path):
    sc = load_scenario("half_cheetah_full", {"env": {"max_episode_steps": 50}})
    env = make_env(sc.env, seed=0)
    spaces = describe_env(env)
    obs_dim, act_dim = spaces["observation"]["shape"][0], len(spaces["action"]["low"])
    kwargs = {"obs_dim": obs_dim, "act_dim": act_dim, "cell": "gru", "hidden_size": 16}
    torch.manual_seed(0)
    model = RecurrentDynamicsModel(**kwargs).eval()
    payload = {
        "kind": "dynamics", "config": sc.to_dict(), "model_class": "RecurrentDynamicsModel",
        "model_kwargs": kwargs, "model_state": model.state_dict(), "spaces": spaces,
        "control_period": control_period(env), "step": 0,
    }  # fmt: skip
    ckpt = save_checkpoint(tmp_path / "dyn.pt", payload)
    result = export_checkpoint(ckpt, tmp_path / "dyn.onnx", ExportOptions(parity_steps=100, simplify=False))
    assert result.metadata.parity["torch_vs_onnxruntime"]["max_abs_diff_output"] < 1e-4
    commands = [f for f in result.metadata.observation if f.source.startswith("last_action/")]
    assert len(commands) == act_dim and all(f.unit == "N*m" for f in commands), commands
    stepper = Stepper.load(result.path)
    obs, _ = env.reset(seed=1)
    scale = np.array([f["scale"] for f in spaces["fields"]["action"]], dtype=np.float32)
    assert (scale > 1).all()  # gears: a torque is not a ctrl
    state = model.core.initial_state(1)
    rng = np.random.default_rng(0)
    for _ in range(20):
        ctrl = rng.uniform(-1, 1, act_dim).astype(np.float32)
        torque = scale * ctrl
        out = stepper.step(np.concatenate([obs, torque]).astype(np.float32)).copy()
        with torch.no_grad():
            x = torch.from_numpy(np.concatenate([obs, ctrl]).astype(np.float32)).view(1, -1)
            mean, _, state = model.predict_inference(x, state, None)
        np.testing.assert_allclose(out, mean[0].numpy(), atol=1e-4)
        obs, *_ = env.step(ctrl)
