"""CLI smoke tests on a tiny budget: train-dynamics, resume, eval-dynamics, grad-flow, --help."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def tiny_scenario(tmp_path_factory) -> Path:
    data = yaml.safe_load((ROOT / "sim" / "pendulum_novel.yaml").read_text())
    data["env"].update(max_episode_steps=40, num_envs=4)
    data["model"]["hidden_size"] = 16
    data["dynamics"].update(
        train_episodes=4, heldout_episodes=2, total_updates=4, batch_size=4, chunk_length=8, burn_in=2,
        checkpoint_every=2, log_every=1, eval_history=8, eval_horizons=[5, 20],
    )  # fmt: skip
    path = tmp_path_factory.mktemp("scn") / "tiny_pendulum.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_train_resume_eval_and_grad_flow(tiny_scenario, tmp_path):
    run = tmp_path / "run"
    first = cli("train-dynamics", "--scenario", str(tiny_scenario), "--run-dir", str(run), "--cell", "lstm",
                "--no-progress", cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "trained 4 updates" in first.stdout and "nRMSE" in first.stdout
    assert (run / "checkpoint.pt").is_file() and (run / "heldout.npz").is_file()

    more = cli("train-dynamics", "--scenario", str(tiny_scenario), "--run-dir", str(run), "--cell", "lstm",
               "--updates", "6", cwd=tmp_path)  # fmt: skip
    assert more.returncode == 0, more.stderr
    assert "resumed at update 4 of 6" in more.stdout and "trained 6 updates" in more.stdout

    wrong = cli("train-dynamics", "--scenario", str(tiny_scenario), "--run-dir", str(run), "--cell", "gru",
                cwd=tmp_path)  # fmt: skip
    assert wrong.returncode == 2
    assert "model.cell: 'lstm' != 'gru'" in wrong.stderr and "Traceback" not in wrong.stderr

    ev = cli("eval-dynamics", str(run / "checkpoint.pt"), "--horizons", "5", "20", cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    rows = {
        ln.split()[0]: float(ln.split()[1]) for ln in ev.stdout.splitlines() if ln.strip()[:2] in ("5 ", "20")
    }
    assert set(rows) == {"5", "20"} and all(v > 0 for v in rows.values())

    bundle, planning = tmp_path / "dyn.onnx", tmp_path / "plan.onnx"
    for args in ([], ["--planning", "8", "5"]):
        out = bundle if not args else planning
        exported = cli("export", str(run / "checkpoint.pt"), "-o", str(out), *args, cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
    shown = cli("inspect", str(bundle), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    meta = yaml.safe_load(cli("inspect", str(bundle), "--json", cwd=tmp_path).stdout)
    threshold = meta["monitor"]["threshold"]
    assert "Monitor alarm" in shown.stdout and f"WARN above {threshold:g}" in shown.stdout, shown.stdout
    assert "Planning" not in shown.stdout
    shown = cli("inspect", str(planning), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "8 candidates x 5 steps" in shown.stdout, shown.stdout
    assert "torque" in shown.stdout.split("Planning")[1], shown.stdout

    png = tmp_path / "gf.png"
    gf = cli("grad-flow", "--scenario", str(tiny_scenario), "--cells", "rnn", "gru", "--length", "20",
             "--episodes", "2", "--batch", "4", "--out", str(png), cwd=tmp_path)  # fmt: skip
    assert gf.returncode == 0, gf.stderr
    assert "rnn" in gf.stdout and "gru" in gf.stdout and png.is_file()
    trained = cli("grad-flow", "--checkpoint", str(run / "checkpoint.pt"), "--length", "20",
                  "--out", str(tmp_path / "t.png"), cwd=tmp_path)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "lstm (run)" in trained.stdout, trained.stdout


def test_bad_input_is_one_line_errors(tmp_path):
    missing = cli("eval-dynamics", str(tmp_path / "nope.pt"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such checkpoint" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("env: {id: Pendulum-v1}\ndynamics: {chunk_lenght: 5}\n")
    res = cli("train-dynamics", "--scenario", str(bad), "--run-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert res.returncode == 2 and "unknown key 'chunk_lenght' (did you mean 'chunk_length'?)" in res.stderr


@pytest.mark.parametrize("command", ["train-dynamics", "eval-dynamics", "grad-flow"])
def test_help(command, tmp_path):
    res = cli(command, "--help", cwd=tmp_path)
    assert res.returncode == 0 and "usage: rnn-control " + command in res.stdout
