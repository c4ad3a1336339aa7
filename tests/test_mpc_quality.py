"""Control quality of MPC on the learned GRU model against the same planner on the true simulator
(PendulumNoVel): the learned-model MPC is within 10% of the oracle's return (slow: trains a model)."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_control.envs.mpc_returns import mpc_returns, oracle_returns
from rnn_control.export.planning import PlanningExportOptions, export_planning
from rnn_control.scenario import load_scenario
from rnn_control.train.dynamics.trainer import DynamicsTrainer


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_learned_model_mpc_is_within_10_percent_of_the_oracle(tmp_path):
    scenario = load_scenario("pendulum_novel", {"dynamics": {"total_updates": 1500}})
    result = DynamicsTrainer(scenario, tmp_path / "dyn", progress=False, tensorboard=False).train()
    bundle = tmp_path / "plan.onnx"
    export_planning(result.checkpoint, bundle, PlanningExportOptions(batch=256, horizon=30))
    section = {**scenario.to_dict()["mpc"], "deadline": 0.0}
    learned = np.mean(mpc_returns(bundle, 10, seed=1000, config=section))
    oracle = np.mean(oracle_returns(scenario, 10, seed=1000))
    assert oracle > -250, oracle  # the planner and cost solve the task with a perfect model
    assert learned >= 1.10 * oracle, (learned, oracle)  # returns are negative


def test_the_mujoco_oracle_predicts_what_the_env_then_observes():
    """MPC's oracle on a MuJoCo task: every candidate rolled out from the env's full state by
    mujoco.rollout gives exactly the observations the (velocity-masked) env returns."""
    from rnn_control.envs.factory import make_env
    from rnn_control.envs.mpc_returns import make_oracle

    env = make_env(load_scenario("inverted_pendulum_novel").env)
    env.reset(seed=3)
    for a in ([0.5], [-1.0], [2.0]):  # a state off the reset distribution
        env.step(np.asarray(a, dtype=np.float32))
    oracle = make_oracle(env, horizon=6, batch=5, obs_dim=2)
    assert type(oracle).__name__ == "MujocoOracle" and oracle.obs_dim == 2
    oracle.sync(env)
    oracle.actions[:] = np.random.default_rng(0).uniform(-3, 3, oracle.actions.shape)
    predicted = oracle.rollout().copy()
    assert np.ptp(predicted[-1, 0, :, 1]) > 1e-3  # the candidates do differ
    for t in range(6):
        obs, *_ = env.step(oracle.actions[t, 3])
        np.testing.assert_allclose(predicted[t, 0, 3], obs, rtol=1e-5, atol=1e-6)
    env.close()
