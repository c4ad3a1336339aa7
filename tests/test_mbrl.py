"""The model-based loop: collect with MPC on the current model (a planning bundle in the runtime),
refit, repeat."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from rnn_control.cli import main
from rnn_control.export.planning import PlanningExportOptions, export_planning
from rnn_control.runtime.mpc import MpcController
from rnn_control.scenario import load_scenario
from rnn_control.train.dynamics.mbrl import run_mbrl
from rnn_control.train.dynamics.rollouts import EpisodeDataset

TINY = {
    "model": {"hidden_size": 16},
    "dynamics": {"batch_size": 8, "chunk_length": 16, "burn_in": 4, "checkpoint_every": 1000},
    "mpc": {"samples": 16, "horizon": 6,
            "loop": {"iterations": 2, "initial_episodes": 1, "initial_updates": 20, "episodes": 1,
                     "updates": 10, "target_return": None}},
}  # fmt: skip


def test_the_loop_collects_with_mpc_on_each_refitted_model(tmp_path):
    scenario = load_scenario("pendulum_novel", TINY)
    made = []

    def make_controller(checkpoint, iteration):
        bundle = tmp_path / f"plan{iteration}.onnx"
        export_planning(checkpoint, bundle, PlanningExportOptions(batch=16, horizon=6, parity_ticks=2))
        made.append(bundle)
        return MpcController.load(bundle, {**scenario.to_dict()["mpc"], "deadline": 0.0})

    result = run_mbrl(scenario, tmp_path / "run", make_controller, log=lambda _: None)
    assert len(made) == 2 and result.env_steps == 3 * 200 and len(result.returns) == 2
    data = EpisodeDataset.load(tmp_path / "run" / "mbrl_data.npz")
    assert data.num_episodes == 3 and len(data) == 600 and np.isfinite(data.act).all()
    assert np.abs(data.act[200:]).max() <= 2.0 and np.abs(data.act[200:]).std() > 0  # MPC commands
    rows = list(csv.DictReader((tmp_path / "run" / "mbrl.csv").read_text().splitlines()))
    assert [int(r["env_steps"]) for r in rows] == [400, 600] and [int(r["updates"]) for r in rows] == [20, 30]
    assert json.loads((tmp_path / "run" / "mbrl.json").read_text())["env_steps"] == 600


def test_train_mbrl_command_stops_at_the_target(tmp_path, capsys, monkeypatch):
    from rnn_control import scenario as scenario_pkg

    original = scenario_pkg.load_scenario  # the command imports it at run time: give it the tiny settings
    monkeypatch.setattr(
        scenario_pkg, "load_scenario", lambda name, over=None: original(name, _merge(TINY, over or {}))
    )
    code = main(["train-mbrl", "--scenario", "pendulum_novel", "--run-dir", str(tmp_path / "r"),
                 "--iterations", "3", "--target-return=-1e9"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "iteration 0:" in out and "iteration 1:" not in out  # reached at once
    assert "first after 400 env steps" in out and (tmp_path / "r" / "plan.onnx").is_file()


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pendulum_novel_reaches_minus_250_in_under_8200_env_steps(tmp_path):
    """The data-efficiency goal: >= 10x fewer env steps than recurrent PPO's 82k."""
    code = main(["train-mbrl", "--scenario", "pendulum_novel", "--run-dir", str(tmp_path / "r"),
                 "--iterations", "30"])  # fmt: skip
    summary = json.loads((tmp_path / "r" / "mbrl.json").read_text())
    assert code == 0 and summary["steps_at_target"] is not None and summary["steps_at_target"] <= 8200
