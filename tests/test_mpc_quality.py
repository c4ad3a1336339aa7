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
