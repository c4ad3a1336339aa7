"""Progress reporting: a bar on a terminal, a handful of plain lines anywhere else (a CI log, a
redirected demo), never a carriage-return redraw per update."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import yaml

from rnn_control.train.common.progress import Progress
from tests.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_plain_lines_every_tenth_when_not_a_terminal():
    out = io.StringIO()
    with Progress(1000, "ppo demo", "step", stream=out) as bar:
        assert not bar.is_bar
        for i in range(1000):
            bar.update(1, loss=f"{i:.1f}")
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 10
    assert lines[0].startswith("ppo demo:  10% (100/1000 step, ") and lines[0].endswith("loss 99.0")
    assert lines[-1].startswith("ppo demo: 100% (1000/1000 step")


def test_resumed_and_stopped_early_runs_end_with_a_line():
    out = io.StringIO()
    bar = Progress(1000, "bc demo", initial=500, stream=out)
    bar.update(100)  # the 60% mark: a line
    bar.update(30)  # 63%, then stopped (target reached): the last line comes from close()
    bar.close()
    bar.close()  # closing twice prints nothing more
    lines = out.getvalue().splitlines()
    assert [ln.split(":")[1].split("(")[0].strip() for ln in lines] == ["60%", "63%"]
    assert lines[-1].startswith("bc demo:  63% (630/1000 step")
    silent = io.StringIO()
    Progress(10, "off", enabled=False, stream=silent).update(10)
    assert silent.getvalue() == ""


def test_a_terminal_gets_the_bar():
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w") as tty:
            bar = Progress(10, "ppo demo", stream=tty)
            assert bar.is_bar
            bar.update(10)
            bar.close()
    finally:
        os.close(master)


def test_training_with_output_redirected_prints_a_handful_of_lines(tmp_path):
    data = yaml.safe_load((ROOT / "sim" / "pendulum_novel.yaml").read_text())
    data["env"].update(max_episode_steps=40, num_envs=4)
    data["model"]["hidden_size"] = 8
    data["dynamics"].update(
        train_episodes=4, heldout_episodes=2, total_updates=60, batch_size=4, chunk_length=8, burn_in=2,
        checkpoint_every=30, log_every=10, eval_history=8, eval_horizons=[5],
    )  # fmt: skip
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(yaml.safe_dump(data))
    res: subprocess.CompletedProcess = run_cli(
        "train-dynamics", "--scenario", str(scenario), "--run-dir", str(tmp_path / "run"), cwd=tmp_path,
        timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    both = res.stdout + res.stderr
    assert "\r" not in both
    progress = [ln for ln in res.stderr.splitlines() if ln.startswith("train-dynamics:")]
    assert 5 <= len(progress) <= 11, res.stderr  # every 10% of 60 updates, not one per update
    assert progress[-1].startswith("train-dynamics: 100% (60/60 upd")
    collecting = [ln for ln in res.stderr.splitlines() if ln.startswith("collecting episodes:")]
    assert 1 <= len(collecting) <= 11
    assert "trained 60 updates" in res.stdout and (tmp_path / "run" / "metrics.csv").is_file()
