"""Scaling out (issue 15): env stepping and PPO training throughput, one process vs async envs vs 2 ranks.

Two subcommands (run from the repository root; results go to BENCHMARKS.md, "Scaling out"):

``envs``: raw vector-env stepping with random actions, ``env.vectorization: sync`` vs ``async``
(gymnasium ``AsyncVectorEnv``, one worker process per env), for each scenario and env count::

    PYTHONPATH=. .venv/bin/python bench/bench_scaling.py envs
    PYTHONPATH=. .venv/bin/python bench/bench_scaling.py envs --scenario sim/half_cheetah_full.yaml \
        --num-envs 8 16 --seconds 3

``train``: one ``rnn-control train-policy`` subprocess per mode, same seed and step budget; each
prints env steps/s (steps / training time, evaluation excluded), the wall clock of the whole
command, the time to ``--target`` (first evaluation at or above it) and the final evaluation
return, with the ratio to the ``sync`` baseline::

    PYTHONPATH=. .venv/bin/python bench/bench_scaling.py train --scenario sim/pendulum_novel.yaml \
        --steps 150000
    PYTHONPATH=. .venv/bin/python bench/bench_scaling.py train --scenario sim/half_cheetah_full.yaml \
        --steps 50000 --eval-every 25000

Modes (``--modes``, default all):

- ``sync``: 1 process, envs stepped in it, ``policy.num_threads`` 1 (the scenario default): the
  baseline;
- ``threads2``: 1 process, sync envs, ``policy.num_threads`` 2 (torch uses both cores);
- ``async``: 1 process, envs in worker processes (``env.vectorization: async``), 1 torch thread;
- ``ranks2``: 2 ranks under ``torch.distributed.run``, each stepping half the envs, so that an
  update sees the same batch (and the same env seeds) as 1 process with all of them; torch's
  launcher sets 1 thread per rank;
- ``ranks2-wide``: 2 ranks, each stepping all ``policy.num_envs`` envs: twice the batch per
  update, so half the updates for the same env steps (a different training run).
- ``independent2``: two ``sync`` trainings at once (seeds s and s + 1), no communication at all:
  the most any 2-process mode can reach on this machine, the whole training loop included (the
  update's cache and memory contention, which ``ceiling``'s rollout loop leaves out). Its steps/s
  is the two runs' sum; its return is the first run's.

A mode whose command fails is reported as skipped, with its first error.

``ceiling``: what 2 cores can give at best, with no communication at all: the PPO rollout loop
(GRU policy forward + env step, no update) in 1 process, then in 2 independent processes at
once, and the ratio; then the latency of a gloo all-reduce between 2 ranks::

    PYTHONPATH=. .venv/bin/python bench/bench_scaling.py ceiling
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rnn_control.envs.factory import make_vec_env
from rnn_control.scenario import load_scenario
from rnn_control.scenario.loading import deep_merge, resolve_scenario
from tests.host_load import HostLoad

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "rnn_control"]  # = rnn-control
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
MODES = ("sync", "threads2", "async", "ranks2", "ranks2-wide", "independent2")
DEFAULT_SCENARIOS = ("sim/pendulum_novel.yaml", "sim/half_cheetah_full.yaml")


# ---------------------------------------------------------------- envs: raw stepping


def step_rate(scenario: str, vectorization: str, num_envs: int, seconds: float) -> float:
    """Env steps/s of ``num_envs`` copies of the scenario's env (wrappers included), random actions."""
    cfg = dataclasses.replace(load_scenario(scenario).env, vectorization=vectorization)
    venv = make_vec_env(cfg, num_envs, seed=0)
    space = venv.action_space
    rng = np.random.default_rng(0)
    if hasattr(space, "low"):
        actions = rng.uniform(space.low, space.high, (64, *space.shape)).astype(space.dtype)
    else:
        actions = np.stack([space.sample() for _ in range(64)])
    try:
        for t in range(20):  # warm-up
            venv.step(actions[t % 64])
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for t in range(50):
                venv.step(actions[t])
            steps += 50
        return steps * num_envs / (time.perf_counter() - t0)
    finally:
        venv.close()


def bench_envs(args: argparse.Namespace) -> None:
    """Print sync and async stepping rates and their ratio for each scenario and env count."""
    print("| scenario | envs | sync steps/s | async steps/s | async / sync |")
    print("|---|---:|---:|---:|---:|")
    for scenario in args.scenario or DEFAULT_SCENARIOS:
        for n in args.num_envs:
            sync = step_rate(scenario, "sync", n, args.seconds)
            asyn = step_rate(scenario, "async", n, args.seconds)
            name = Path(scenario).stem
            print(f"| {name} | {n} | {sync:,.0f} | {asyn:,.0f} | {asyn / sync:.2f}x |", flush=True)


# ---------------------------------------------------------------- train: PPO per mode


def scenario_file(scenario: str, mode: str, args: argparse.Namespace, folder: Path) -> Path:
    """A copy of the scenario YAML with the mode's settings and the benchmark's overrides."""
    path = resolve_scenario(scenario)
    data = yaml.safe_load(path.read_text())
    policy: dict[str, Any] = {"eval_every": args.eval_every, "num_envs": args.num_envs}
    if args.target is not None:
        policy["target_return"] = args.target
    if mode == "ranks2":  # each rank steps half the envs: the same batch per update as 1 process
        policy["num_envs"] = args.num_envs // 2
    if mode == "threads2":
        policy["num_threads"] = 2
    env = {"vectorization": "async" if mode == "async" else "sync"}
    data = deep_merge(data, {"name": path.stem, "env": env, "policy": policy})
    robot = data["env"].get("robot")
    if isinstance(robot, dict):  # relative MJCF paths resolve from the original scenario's folder
        robot.setdefault("scenario_dir", str(path.resolve().parent))
    out = folder / f"{path.stem}_{mode}.yaml"
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def command(mode: str, scenario_yaml: Path, run_dir: Path, steps: int) -> list[str]:
    """The ``train-policy`` command line of one mode."""
    args = ["train-policy", "--scenario", str(scenario_yaml), "--run-dir", str(run_dir)]
    args += ["--steps", str(steps), "--no-progress"]
    if mode.startswith("ranks2"):
        # 2 ranks: train-policy's torchrun support (issue 15; README "Scaling out"). Where it
        # fails (an older tree, no gloo), the mode is reported as skipped with its error.
        return [*TORCHRUN, "-m", "rnn_control", *args]
    return [*CLI, *args]


def read_metrics(run_dir: Path, target: float | None) -> dict[str, Any]:
    """Steps, training time, steps/s, final evaluation return and time to ``target`` from metrics.csv."""
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    last = rows[-1]
    evals = [r for r in rows if r.get("eval_return")]
    hit = next((r for r in evals if target is not None and float(r["eval_return"]) >= target), None)
    steps, train_s = int(last["step"]), float(last["time_s"])
    return {
        "steps": steps,
        "train_s": train_s,
        "steps_per_s": steps / train_s,
        "final_return": float(evals[-1]["eval_return"]) if evals else float("nan"),
        "target_s": float(hit["time_s"]) if hit else None,
        "target_step": int(hit["step"]) if hit else None,
    }


def error_lines(output: str, context: int = 6) -> str:
    """The first error of a failed command with the lines before it (torchrun's summary, which
    only names the failing rank, comes after it), else the output's last lines."""
    lines = output.strip().splitlines()
    first = next((i for i, line in enumerate(lines) if "Error:" in line or "Exception:" in line), None)
    if first is None:
        return "\n".join(lines[-2 * context :])
    return "\n".join(lines[max(0, first - context) : first + 1])


def run_mode(mode: str, args: argparse.Namespace, folder: Path) -> dict[str, Any] | None:
    """Train once in ``mode``; None (with the error shown) when the command fails."""
    if mode == "independent2":
        return run_independent(args, folder)
    run_dir = folder / f"run_{mode}"
    cmd = command(mode, scenario_file(args.scenario, mode, args, folder), run_dir, args.steps)
    print(f"\n[{mode}] {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not (run_dir / "metrics.csv").exists():
        error = error_lines(proc.stderr or proc.stdout)
        print(f"[{mode}] skipped: exit {proc.returncode} after {wall:.0f} s\n{error}", flush=True)
        return None
    result = {"mode": mode, "wall_s": wall, **read_metrics(run_dir, args.target)}
    print(f"[{mode}] {result}", flush=True)
    return result


def run_independent(args: argparse.Namespace, folder: Path) -> dict[str, Any] | None:
    """Two ``sync`` trainings started together (seeds s and s + 1): the sum of their steps/s."""
    yaml_path = scenario_file(args.scenario, "sync", args, folder)
    data = yaml.safe_load(yaml_path.read_text())
    procs, run_dirs = [], []
    for k in range(2):
        seeded = folder / f"{yaml_path.stem}_independent{k}.yaml"
        seeded.write_text(yaml.safe_dump({**data, "seed": int(data.get("seed", 0)) + k}, sort_keys=False))
        run_dirs.append(folder / f"run_independent2_{k}")
        cmd = command("sync", seeded, run_dirs[-1], args.steps)
        print(f"\n[independent2/{k}] {' '.join(cmd)}", flush=True)
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        procs.append(subprocess.Popen(cmd, cwd=REPO, text=True, **pipes))
    t0 = time.perf_counter()
    outputs = [p.communicate() for p in procs]
    wall = time.perf_counter() - t0
    failed = [(p, err) for p, (_, err) in zip(procs, outputs) if p.returncode != 0]
    if failed:  # the failing run's stderr (the other's may hold only warnings)
        proc, err = failed[0]
        print(f"[independent2] skipped: exit {proc.returncode}\n{error_lines(err)}", flush=True)
        return None
    runs = [read_metrics(d, args.target) for d in run_dirs]
    result = {"mode": "independent2", "wall_s": wall, **runs[0]}
    result["steps_per_s"] = sum(r["steps_per_s"] for r in runs)
    result["steps"] = sum(r["steps"] for r in runs)
    print(f"[independent2] {result} (each: {[round(r['steps_per_s']) for r in runs]} steps/s)", flush=True)
    return result


def bench_train(args: argparse.Namespace) -> None:
    """Run every mode, then print one table with the ratios to the ``sync`` baseline."""
    folder = Path(tempfile.mkdtemp(prefix="bench_scaling_"))
    host = HostLoad()
    results = [r for mode in args.modes if (r := run_mode(mode, args, folder)) is not None]
    base = next((r for r in results if r["mode"] == "sync"), None)
    print(f"\n{Path(args.scenario).stem}, --steps {args.steps}, target {args.target} (runs in {folder})")
    print("| mode | steps | env steps/s | vs sync | train s | wall s | to target s | final return |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ratio = f"{r['steps_per_s'] / base['steps_per_s']:.2f}x" if base else "-"
        to_target = f"{r['target_s']:.0f} (step {r['target_step']})" if r["target_s"] is not None else "-"
        print(
            f"| {r['mode']} | {r['steps']} | {r['steps_per_s']:,.0f} | {ratio} | {r['train_s']:.0f} "
            f"| {r['wall_s']:.0f} | {to_target} | {r['final_return']:.1f} |"
        )
    print(host.line())


# ---------------------------------------------------------------- ceiling

ROLLOUT_LOOP = """
import sys, time
import numpy as np, torch
torch.set_num_threads(1)
from rnn_control.envs.factory import make_vec_env
from rnn_control.models.policy import RecurrentActorCritic
from rnn_control.scenario import load_scenario
sc = load_scenario(sys.argv[1])
venv = make_vec_env(sc.env, int(sys.argv[2]), seed=0)
space = venv.single_action_space
model = RecurrentActorCritic(venv.single_observation_space.shape[0], space.shape[0], "box",
                             space.low.tolist(), space.high.tolist(), hidden_size=sc.model.hidden_size,
                             shared_core=False)
obs, _ = venv.reset(seed=0)
state, n, t0 = model.initial_state(venv.num_envs), 0, time.perf_counter()
with torch.no_grad():
    while time.perf_counter() - t0 < float(sys.argv[3]):
        out, _, state = model(torch.from_numpy(obs.astype(np.float32))[None], state)
        obs, *_ = venv.step(np.clip(out[0].numpy(), space.low, space.high))
        n += venv.num_envs
print(n / (time.perf_counter() - t0))
"""

ALLREDUCE = """
import time, torch, torch.distributed as dist
torch.set_num_threads(1)
dist.init_process_group("gloo")
for n in (10_000, 100_000, 250_000):
    t = torch.randn(n)
    for _ in range(20):
        dist.all_reduce(t)
    t0 = time.perf_counter()
    for _ in range(200):
        dist.all_reduce(t)
    ms = (time.perf_counter() - t0) / 200 * 1e3
    if dist.get_rank() == 0:
        print(f"gloo all_reduce of {n} floats between 2 ranks: {ms:.3f} ms")
dist.destroy_process_group()
"""


def bench_ceiling(args: argparse.Namespace) -> None:
    """Rollout-loop steps/s in 1 process and in 2 at once; gloo all-reduce latency."""
    host = HostLoad()
    cmd = [sys.executable, "-c", ROLLOUT_LOOP, args.scenario, str(args.num_envs), str(args.seconds)]
    one = float(subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout)
    procs = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    two = [float(p.communicate()[0]) for p in procs]
    print(f"{args.scenario}, {args.num_envs} envs, rollout loop without the update:")
    print(f"  1 process: {one:,.0f} steps/s; 2 at once: {two[0]:,.0f} + {two[1]:,.0f} = {sum(two):,.0f}")
    print(f"  ceiling of 2 processes on this machine: {sum(two) / one:.2f}x")
    with tempfile.NamedTemporaryFile("w", suffix=".py") as script:
        script.write(ALLREDUCE)
        script.flush()
        out = subprocess.run([*TORCHRUN, script.name], cwd=REPO, capture_output=True, text=True, check=True)
    print("  " + "\n  ".join(line for line in out.stdout.splitlines() if "all_reduce" in line))
    print(f"  {host.line()}")


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    envs = sub.add_parser("envs", help="raw env stepping, sync vs async")
    default = " ".join(DEFAULT_SCENARIOS)
    envs.add_argument("--scenario", nargs="+", help=f"scenario YAMLs (default: {default})")
    envs.add_argument("--num-envs", nargs="+", type=int, default=[8, 16])
    envs.add_argument("--seconds", type=float, default=3.0, help="timed stepping per measurement")
    train = sub.add_parser("train", help="PPO training per mode (subprocesses)")
    train.add_argument("--scenario", required=True)
    train.add_argument("--steps", type=int, required=True, help="total env steps (train-policy --steps)")
    train.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    train.add_argument("--target", type=float, help="return for 'to target' (default: the scenario's)")
    train.add_argument("--eval-every", type=int, default=10_000, help="policy.eval_every (steps)")
    train.add_argument("--num-envs", type=int, help="policy.num_envs of 1 process (default: the scenario's)")
    ceiling = sub.add_parser("ceiling", help="2 independent processes vs 1; gloo all-reduce latency")
    ceiling.add_argument("--scenario", default="pendulum_novel")
    ceiling.add_argument("--num-envs", type=int, default=16)
    ceiling.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    if args.command == "envs":
        bench_envs(args)
    elif args.command == "ceiling":
        bench_ceiling(args)
    else:
        scenario = load_scenario(args.scenario)
        if args.target is None:
            args.target = scenario.policy.target_return
        if args.num_envs is None:
            args.num_envs = scenario.policy.num_envs or scenario.env.num_envs
        bench_train(args)


if __name__ == "__main__":
    main()
