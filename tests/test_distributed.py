"""Data-parallel training on 2 gloo ranks, started the way a user starts it (torchrun, real
processes, real envs): identical parameters across ranks, a 2-rank run equal to a 1-process run
with the same total batch, a killed run resumed, a dead rank stopping the others, and the bad
launches refused with messages."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from rnn_control.errors import CheckpointError, ConfigError
from rnn_control.scenario import load_scenario
from rnn_control.train.common.checkpoint import load_checkpoint
from rnn_control.train.common.distributed import (
    Distributed,
    check_world_size,
    choose_device,
    collective_timeout,
    read_launch_env,
)

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "distributed_worker.py"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]

PPO = {
    "policy": {
        "total_steps": 1024, "num_envs": 2, "rollout_steps": 64, "chunk_length": 16,
        "num_minibatches": 2, "epochs": 3, "target_kl": 0.002, "eval_every": 0, "eval_episodes": 1,
        "checkpoint_every": 512, "device": "cpu",
    },
    "model": {"hidden_size": 16},
}  # fmt: skip
DAGGER = {
    "policy": {
        "algorithm": "dagger", "total_steps": 600, "dagger_iterations": 2, "bc_epochs": 2,
        "num_envs": 2, "eval_episodes": 1, "device": "cpu",
    },
    "model": {"hidden_size": 16},
}  # fmt: skip
DYNAMICS = {
    "env": {"max_episode_steps": 30, "num_envs": 4},
    "model": {"cell": "gru", "hidden_size": 16},
    "dynamics": {
        "train_episodes": 6, "heldout_episodes": 2, "total_updates": 12, "batch_size": 8,
        "chunk_length": 8, "burn_in": 4, "checkpoint_every": 6, "log_every": 1,
        "eval_horizons": [5, 10], "eval_history": 8, "device": "cpu",
    },
}  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **extra)
    return env


def _torchrun(n: int, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*TORCHRUN, str(n), *args], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout
    )
    return proc


def _worker(n: int, kind: str, scenario: str, overrides: dict, run_dir: Path, out: Path) -> None:
    spec = json.dumps({"scenario": scenario, "overrides": overrides})
    args = [str(WORKER), kind, spec, str(run_dir), str(out)]
    if n == 1:  # one process, no torchrun: the plain path
        proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=_env(), capture_output=True, text=True)
    else:
        proc = _torchrun(n, args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _scenario_file(tmp_path: Path, name: str, overrides: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(load_scenario(name, overrides).to_dict()))
    return path


def _cli(*args: str) -> list[str]:
    return ["-m", "rnn_control", *args]


# --- 2 ranks, real torchrun -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "scenario", "overrides"),
    [("ppo", "pendulum_novel", PPO), ("bc", "cartpole_novel", DAGGER)],
    ids=["ppo", "dagger"],
)
def test_two_ranks_hold_identical_parameters_after_their_updates(tmp_path, kind, scenario, overrides):
    """Each rank steps its own envs with its own seeds, yet after every update both ranks hold the
    same parameters and normaliser statistics (gradients all-reduced, statistics merged, the PPO
    KL early stop agreed: ``target_kl`` is set low enough to stop epochs early); the checkpoint
    holds both ranks' RNG streams and counts the env steps of both."""
    _worker(2, kind, scenario, overrides, tmp_path / "run", tmp_path / "out")
    r0, r1 = (torch.load(tmp_path / "out" / f"rank{r}.pt") for r in (0, 1))
    assert r0.keys() == r1.keys()
    different = [k for k in r0 if not torch.equal(r0[k], r1[k])]
    assert not different, f"ranks disagree on {different}"
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt", kind="policy")
    assert ckpt["world_size"] == 2 and len(ckpt["ranks"]) == 2
    assert not torch.equal(ckpt["ranks"][0]["rng"]["torch"], ckpt["ranks"][1]["rng"]["torch"])
    if kind == "ppo":
        assert ckpt["step"] == 1024  # 2 ranks x 2 envs x 64 steps per iteration, 4 iterations
        # the normaliser merged both ranks' observations: 1024 steps seen, not one rank's 512
        assert int(r0["normalizer.count"]) == 1024
        rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1:]
        assert [int(r.split(",")[0]) for r in rows] == [256, 512, 768, 1024]  # rank 0 alone logs


def test_two_rank_dynamics_equals_one_process_with_the_same_total_batch(tmp_path):
    """Every rank draws the same global batch and trains on its half, so the averaged gradient is
    the whole batch's: after 12 Adam updates the 2-rank model equals the 1-process one. The
    tolerance: the two differ only in the order of a float32 sum (the all-reduce adds the two
    halves' gradients, the 1-process backward adds everything at once), ~1e-7 relative per
    update, and Adam's normalisation keeps it there: measured 3e-8, so 1e-5 leaves a margin of
    300x. Ranks that skip the average (each stepping on its own half) end 1.8e-2 apart from the
    1-process model (measured), far outside it."""
    _worker(2, "dynamics", "pendulum_novel", DYNAMICS, tmp_path / "two", tmp_path / "out2")
    _worker(1, "dynamics", "pendulum_novel", DYNAMICS, tmp_path / "one", tmp_path / "out1")
    two0, two1, one = (torch.load(p) for p in (tmp_path / "out2/rank0.pt", tmp_path / "out2/rank1.pt",
                                               tmp_path / "out1/rank0.pt"))  # fmt: skip
    assert all(torch.equal(two0[k], two1[k]) for k in two0)
    worst = max((two0[k].double() - one[k].double()).abs().max().item() for k in one)
    assert worst < 1e-5, f"2 ranks vs 1 process: max parameter difference {worst:.3g}"
    ckpt = load_checkpoint(tmp_path / "two" / "checkpoint.pt", kind="dynamics")
    assert ckpt["world_size"] == 2 and ckpt["step"] == 12


def test_a_killed_two_rank_run_resumes_and_refuses_another_world_size(tmp_path):
    """The user's path: ``torchrun ... -m rnn_control train-policy``, killed (SIGKILL to the whole
    group) after a checkpoint, then ``--resume`` with the same world size finishes the run (the
    metrics rows the killed run wrote past its checkpoint dropped); resuming without torchrun is
    refused with the world size to use."""
    over = {**PPO, "policy": {**PPO["policy"], "total_steps": 32768, "target_kl": None}}
    scenario = _scenario_file(tmp_path, "pendulum_novel", over)
    run_dir = tmp_path / "run"
    args = [*TORCHRUN, "2", *_cli("train-policy", "--scenario", str(scenario), "--run-dir", str(run_dir),
                                  "--no-progress")]  # fmt: skip
    proc = subprocess.Popen(args, cwd=ROOT, env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    ckpt_path = run_dir / "checkpoint.pt"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if ckpt_path.is_file() and torch.load(ckpt_path, weights_only=False)["step"] >= 1024:
                break
            time.sleep(0.2)
    finally:  # a crash: the agent and its workers (torchrun starts each in its own session)
        for pid in [*_descendants(proc.pid), proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(30)
    killed_at = load_checkpoint(ckpt_path)["step"]
    assert 1024 <= killed_at < 32768, f"the run was not killed mid-way (checkpoint at {killed_at})"

    resumed = _torchrun(2, _cli("train-policy", "--scenario", str(scenario), "--run-dir", str(run_dir),
                                "--resume", "--no-progress"))  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "training on 2 ranks (gloo)" in resumed.stdout
    final = load_checkpoint(ckpt_path)
    assert final["step"] == 32768 and final["world_size"] == 2
    steps = [int(r.split(",")[0]) for r in (run_dir / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 32768

    alone = subprocess.run(
        [sys.executable, *_cli("train-policy", "--scenario", str(scenario), "--run-dir", str(run_dir),
                               "--resume", "--no-progress")],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert alone.returncode != 0
    assert "written by a 2-process run, resumed with 1" in alone.stderr


def test_a_rank_that_dies_stops_the_other_with_a_message(tmp_path):
    """Two ranks started by hand (the torchrun variables set, no torchrun agent to clean up): kill
    rank 1 mid-training and rank 0 stops within seconds, saying it lost the other ranks, rather
    than waiting in its next all-reduce."""
    over = {**PPO, "policy": {**PPO["policy"], "total_steps": 10_000_000, "target_kl": None}}
    scenario = _scenario_file(tmp_path, "pendulum_novel", over)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ranks = []
    for rank in (0, 1):
        env = _env(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), RNN_CONTROL_COLLECTIVE_TIMEOUT_S="120")  # fmt: skip
        cmd = [sys.executable, *_cli("train-policy", "--scenario", str(scenario), "--run-dir",
                                     str(tmp_path / "run"), "--no-progress")]  # fmt: skip
        ranks.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    try:
        metrics = tmp_path / "run" / "metrics.csv"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(_lines(metrics)) < 3 and ranks[0].poll() is None:
            time.sleep(0.2)
        assert len(_lines(metrics)) >= 3, "training never got under way"
        ranks[1].kill()
        t0 = time.monotonic()
        _, err = ranks[0].communicate(timeout=90)
        waited = time.monotonic() - t0
    finally:
        for p in ranks:
            p.kill()
    assert ranks[0].returncode != 0
    assert "lost contact with the other ranks" in err, err[-2000:]
    assert waited < 60, f"rank 0 took {waited:.0f} s to notice"


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


# --- bad launches and devices (no group needed) -----------------------------------------------------
LAUNCH = {
    "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500",
}  # fmt: skip


def test_a_plain_start_is_a_group_of_one_whose_collectives_do_nothing():
    assert read_launch_env({}) is None
    group = Distributed.start("cpu", environ={})
    assert (group.rank, group.world_size, group.is_main, group.active) == (0, 1, True, False)
    assert group.describe() == "training on 1 process, device cpu (requested)"
    assert group.mean(3.5) == 3.5 and group.minimum(4) == 4 and group.gather_objects("x") == ["x"]
    assert group.rank_seed(7, 16) == 7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"WORLD_SIZE": None}, "RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT set but WORLD_SIZE missing"),
        ({"RANK": "two"}, "RANK='two' is not an integer"),
        ({"RANK": "2"}, "RANK=2 is outside 0..WORLD_SIZE-1 (1)"),
        ({"WORLD_SIZE": "0"}, "WORLD_SIZE=0 must be >= 1"),
        ({"LOCAL_RANK": "3", "LOCAL_WORLD_SIZE": "2"}, "LOCAL_RANK=3 is outside 0..LOCAL_WORLD_SIZE-1 (1)"),
    ],
)
def test_inconsistent_torchrun_variables_are_refused_by_name(change, message):
    env = {**LAUNCH, **change}
    env = {k: v for k, v in env.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        read_launch_env(env)
    assert message in str(err.value)


def test_a_consistent_launch_is_read():
    launch = read_launch_env({**LAUNCH, "RANK": "1", "LOCAL_RANK": "1"})
    assert (launch.rank, launch.world_size, launch.local_rank, launch.master_port) == (1, 2, 1, 29500)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_device_cuda_without_a_gpu_is_refused_and_auto_says_why_it_chose_the_cpu():
    with pytest.raises(ConfigError) as err:
        choose_device("cuda")
    assert "device: cuda requested, but torch sees no CUDA device" in str(err.value)
    assert choose_device("auto") == (torch.device("cpu"), "auto: no CUDA device visible")
    with pytest.raises(ConfigError, match="device: must be one of auto, cpu, cuda"):
        choose_device("gpu")


def test_a_checkpoint_from_another_world_size_is_refused_with_the_size_to_use():
    check_world_size({"world_size": 2}, 2, "ck.pt")
    check_world_size({}, 1, "ck.pt")  # checkpoints from before torchrun support: one process
    with pytest.raises(CheckpointError) as err:
        check_world_size({"world_size": 4}, 2, "ck.pt")
    assert "ck.pt: written by a 4-process run, resumed with 2" in str(err.value)
    assert "--nnodes x --nproc_per_node = 4" in str(err.value)


def test_the_collective_timeout_is_read_and_checked(monkeypatch):
    monkeypatch.setenv("RNN_CONTROL_COLLECTIVE_TIMEOUT_S", "45")
    assert collective_timeout() == 45.0
    monkeypatch.setenv("RNN_CONTROL_COLLECTIVE_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match="is not a number of seconds"):
        collective_timeout()
