"""Training from bags end to end (tiny): in-process Pendulum episodes recorded as a real MCAP bag
the way the sim bridge publishes them -> ``train-dynamics --bag`` -> ``export`` (parity on the
recorded inputs), and behaviour cloning with ``train-policy --bag``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from rnn_control.bags import load_bags
from rnn_control.config import from_dict
from rnn_control.scenario.bag import BagConfig
from tests.bagtools import rollout_bag, rollout_bag_section
from tests.cli import ROOT, run_cli

PERIOD = 0.05


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[Path, Path, object]:
    from rnn_control.scenario import load_scenario
    from rnn_control.train.dynamics.rollouts import collect_rollouts

    root = tmp_path_factory.mktemp("bagtrain")
    scenario = load_scenario("pendulum_novel", {"env": {"max_episode_steps": 50, "num_envs": 2}})
    data = collect_rollouts(scenario.env, 8, "pink", seed=3)
    bag = rollout_bag(root / "bag", data, PERIOD)
    spec = yaml.safe_load((ROOT / "sim" / "pendulum_novel.yaml").read_text())
    spec["model"]["hidden_size"] = 16
    spec["dynamics"].update(
        total_updates=6,
        batch_size=4,
        chunk_length=8,
        burn_in=2,
        checkpoint_every=3,
        log_every=1,
        eval_history=8,
        eval_horizons=[5, 20],
    )
    spec["policy"].update(algorithm="bc", bc_epochs=2)
    spec["bag"] = rollout_bag_section(2, 1, PERIOD)
    path = root / "from_bag.yaml"
    path.write_text(yaml.safe_dump(spec))
    return bag, path, data


def test_the_bag_holds_the_in_process_episodes_exactly(recorded):
    bag, _, data = recorded
    section = from_dict(BagConfig, {**rollout_bag_section(2, 1, PERIOD), "heldout_fraction": 0.0}, "bag")
    read = load_bags([bag], section)
    assert len(read.train) == data.num_episodes
    for k, ep in enumerate(read.train):
        obs, act = data.episode(k)
        np.testing.assert_array_equal(ep.obs, obs)
        np.testing.assert_array_equal(ep.act, act)


def test_train_dynamics_from_a_bag_then_export(recorded, tmp_path):
    bag, scenario, _ = recorded
    run = tmp_path / "run"
    done = run_cli(
        "train-dynamics",
        "--scenario",
        str(scenario),
        "--bag",
        str(bag),
        "--run-dir",
        str(run),
        "--no-progress",
        cwd=tmp_path,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "8 episodes, 400 steps" in done.stdout and "trained 6 updates" in done.stdout
    assert "2 held out" in done.stdout and "nRMSE" in done.stdout
    out = tmp_path / "dyn.onnx"
    exp = run_cli("export", str(run / "checkpoint.pt"), "-o", str(out), cwd=tmp_path, timeout=180)
    assert exp.returncode == 0, exp.stderr
    assert "recorded bag inputs" in exp.stdout
    from rnn_control.runtime import read_bundle_metadata

    meta = read_bundle_metadata(out)
    assert meta.kind == "dynamics" and meta.control_period == pytest.approx(PERIOD)
    assert [f.source for f in meta.observation] == ["vector/0", "vector/1", "last_action/0"]
    assert meta.scenario["bag"]["paths"] == [str(bag)]
    _calibrate_the_monitor_on_the_bag(out, run / "checkpoint.pt", bag, tmp_path)
    # the same run folder with another bag is refused (the data differ), not silently mixed
    other = run_cli(
        "train-dynamics",
        "--scenario",
        str(scenario),
        "--bag",
        str(bag),
        str(bag),
        "--run-dir",
        str(run),
        cwd=tmp_path,
        timeout=180,
    )
    assert other.returncode == 2 and "bag.paths" in other.stderr


def _calibrate_the_monitor_on_the_bag(bundle: Path, checkpoint: Path, bag: Path, tmp_path: Path) -> None:
    """calibrate-monitor steps the exported bundle over the bag's episodes as the monitor node
    would: the same errors as the PyTorch model's, the threshold stored in a new bundle."""
    from rnn_control.models import build_model
    from rnn_control.runtime import Stepper, read_bundle_metadata
    from rnn_control.train.common.bag_data import to_dataset
    from rnn_control.train.common.checkpoint import load_checkpoint
    from rnn_control.train.dynamics.calibrate import bundle_step_errors, calibration, step_errors

    meta = read_bundle_metadata(bundle)
    out = tmp_path / "calibrated.onnx"
    done = run_cli(
        "calibrate-monitor", str(bundle), "--bag", str(bag), "--window", "5", "--false-alarms-per-hour", "50",
        "-o", str(out), cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "from 8 episodes" in done.stdout and f"wrote {out}" in done.stdout, done.stdout
    got = read_bundle_metadata(out).monitor
    assert got["window"] == 5 and got["false_alarms_per_hour"] == 50.0
    assert got["calibrated_on"]["episodes"] == 8
    section = from_dict(BagConfig, meta.scenario["bag"], "bag")
    data = load_bags([bag], section)
    every = [*data.train, *data.heldout]
    bundle_errors = bundle_step_errors(Stepper.load(bundle), [(e.obs, e.act) for e in every], 1e-3)
    torch_errors = step_errors(build_model(load_checkpoint(checkpoint)), to_dataset(every))
    np.testing.assert_allclose(
        np.concatenate(bundle_errors), np.concatenate(torch_errors), rtol=1e-3, atol=1e-4
    )
    want = calibration(bundle_errors, PERIOD, 5, 50.0)
    assert got["threshold"] == pytest.approx(want["threshold"]) and got["method"] == want["method"]
    assert got["threshold"] != meta.monitor.get("threshold")
    # a policy bundle, or a bag section that does not fit, is refused in one line
    wrong = run_cli("calibrate-monitor", str(tmp_path / "nope.onnx"), "--bag", str(bag), "--in-place",
                    cwd=tmp_path, timeout=60)  # fmt: skip
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr, wrong.stderr


def test_behaviour_cloning_from_a_bag_then_export(recorded, tmp_path):
    bag, scenario, _ = recorded
    run = tmp_path / "bc"
    done = run_cli(
        "train-policy",
        "--scenario",
        str(scenario),
        "--bag",
        str(bag),
        "--run-dir",
        str(run),
        "--no-progress",
        cwd=tmp_path,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "behaviour cloning from bags: 300 steps" in done.stdout
    summary = json.loads((run / "eval.json").read_text())
    assert np.isfinite(summary["heldout_action_nrmse"]) and summary["heldout_steps"] == 100
    exp = run_cli(
        "export", str(run / "checkpoint.pt"), "-o", str(tmp_path / "p.onnx"), cwd=tmp_path, timeout=180
    )
    assert exp.returncode == 0, exp.stderr


def test_bag_training_needs_a_bag_section(tmp_path):
    done = run_cli(
        "train-dynamics",
        "--scenario",
        "pendulum_novel",
        "--bag",
        str(tmp_path),
        "--run-dir",
        str(tmp_path / "r"),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2
    assert "has no bag: section" in done.stderr and "Traceback" not in done.stderr
