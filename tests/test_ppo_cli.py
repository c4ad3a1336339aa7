"""``rnn-control train-policy`` / ``eval-policy`` end to end as a user runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd, timeout=300)


def test_train_resume_and_eval_from_the_command_line(tmp_path):
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(
        (ROOT / "sim" / "pendulum_novel.yaml").read_text().split("policy:")[0]
        + "policy:\n  rollout_steps: 32\n  chunk_length: 16\n  num_minibatches: 2\n  epochs: 2\n"
        "  num_envs: 4\n"
        "  eval_every: 0\n  eval_episodes: 2\n"
    )
    run_dir = tmp_path / "run"
    out = cli(
        "train-policy",
        "--scenario",
        str(scenario),
        "--run-dir",
        str(run_dir),
        "--steps",
        "256",
        "--seed",
        "3",
        "--no-progress",
    )
    assert out.returncode == 0, out.stderr
    assert "deterministic evaluation: return" in out.stdout and (run_dir / "checkpoint.pt").is_file()
    assert (run_dir / "learning_curve.png").is_file() and any((run_dir / "tb").iterdir())

    again = cli("train-policy", "--scenario", str(scenario), "--run-dir", str(run_dir), "--steps", "256")
    assert again.returncode == 2 and "--resume" in again.stderr and "Traceback" not in again.stderr
    resumed = cli(
        "train-policy",
        "--scenario",
        str(scenario),
        "--run-dir",
        str(run_dir),
        "--steps",
        "512",
        "--resume",
        "--no-progress",
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "512 env steps" in resumed.stdout

    ev = cli("eval-policy", str(run_dir / "checkpoint.pt"), "--episodes", "2")
    assert ev.returncode == 0, ev.stderr
    assert "return" in ev.stdout and "over 2 episodes" in ev.stdout


def test_bad_scenario_input_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("env:\n  id: Pendulum-v1\npolicy:\n  algorithm: sac\n")
    out = cli("train-policy", "--scenario", str(bad), "--run-dir", str(tmp_path / "r"))
    assert out.returncode == 2 and "algorithm" in out.stderr and "'ppo'" in out.stderr
    missing = cli("eval-policy", str(tmp_path / "nope.pt"))
    assert missing.returncode == 2 and "no such checkpoint" in missing.stderr
