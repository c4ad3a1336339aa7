"""Learning benchmark on Gymnasium's MuJoCo robots (issue 11): recurrent PPO with full and
partial (IMU-style) observations, against feed-forward baselines, 1M env steps per run.

Each run is ``rnn-control train-policy`` on a scenario written from a shipped one plus the
run's overrides, started under torchrun with ``--ranks`` processes (the scenario's 16 envs are
shared out, so every update sees the batch of a 1-process run). One JSON line per run is
appended to ``--out`` as soon as it ends, so a long session keeps what it finished.

    PYTHONPATH=. python bench/bench_locomotion.py --runs hc_full_gru hc_imu_gru hc_imu_gru_priv
    PYTHONPATH=. python bench/bench_locomotion.py --runs hc_imu_mlp hc_imu_mlp4 --seeds 0 1 2
    PYTHONPATH=. python bench/bench_locomotion.py --list

Figures: BENCHMARKS.md ("Learning benchmark: MuJoCo robots").
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from rnn_control.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
PRIVILEGED = {"privileged_obs": {}}


def _wrappers(name: str) -> list:
    """The scenario's wrappers without the privileged observation (added back where a run asks)."""
    return [w for w in load_scenario(name).to_dict()["env"]["wrappers"] if "privileged_obs" not in w]


def variant(
    name: str, mlp: bool = False, frames: int = 0, privileged: bool | None = None, policy: dict | None = None
) -> dict:
    """Overrides of shipped scenario ``name``: an MLP policy (hidden 128), over the last
    ``frames`` observations, with the critic reading the privileged observation or not (None:
    as the scenario ships), and other ``policy`` settings."""
    over: dict = {"policy": {"architecture": "mlp"}, "model": {"hidden_size": 128}} if mlp else {}
    wrappers = _wrappers(name) + ([{"frame_stack": {"frames": frames}}] if frames else [])
    if privileged is None:
        privileged = load_scenario(name).policy.critic_obs == "privileged"
    over["env"] = {"wrappers": [PRIVILEGED, *wrappers] if privileged else wrappers}
    over.setdefault("policy", {})["critic_obs"] = "privileged" if privileged else "policy"
    over["policy"].update(policy or {})
    return over


RL_ZOO_HC = {"init_log_std": -2.0, "gamma": 0.98, "gae_lambda": 0.92}
RUNS: dict[str, tuple[str, dict]] = {  # name -> (shipped scenario, variant)
    "hc_full_gru": ("half_cheetah_full", {}),
    "hc_full_gru_narrow": ("half_cheetah_full", {"policy": {"init_log_std": -2.0, "gamma": 0.98}}),
    "hc_full_mlp": ("half_cheetah_full", {"mlp": True}),
    # rl-zoo's HalfCheetah exploration and discount (initial std 0.14, gamma 0.98, lambda 0.92)
    "hc_full_mlp_narrow": ("half_cheetah_full", {"mlp": True, "policy": RL_ZOO_HC}),
    # the same with twice the gradient steps per update (16 minibatches of 128 steps)
    "hc_full_mlp_narrow_mb16": (
        "half_cheetah_full",
        {"mlp": True, "policy": {**RL_ZOO_HC, "num_minibatches": 16}},
    ),
    "hc_full_mlp4": ("half_cheetah_full", {"mlp": True, "frames": 4}),
    "hc_imu_gru": ("half_cheetah_imu", {"privileged": False}),
    "hc_imu_gru_priv": ("half_cheetah_imu", {"privileged": True}),  # as shipped
    "hc_imu_mlp": ("half_cheetah_imu", {"mlp": True, "privileged": False}),
    "hc_imu_mlp_priv": ("half_cheetah_imu", {"mlp": True, "privileged": True}),
    "hc_imu_mlp4": ("half_cheetah_imu", {"mlp": True, "frames": 4, "privileged": False}),
    "hc_imu_mlp4_priv": ("half_cheetah_imu", {"mlp": True, "frames": 4, "privileged": True}),
    "hc_novel_gru": ("half_cheetah_novel", {}),  # as shipped: privileged critic
    "hc_novel_mlp": ("half_cheetah_novel", {"mlp": True}),
    "hc_novel_mlp4": ("half_cheetah_novel", {"mlp": True, "frames": 4}),
    # the same three with a symmetric critic (it reads what the actor reads)
    "hc_novel_gru_sym": ("half_cheetah_novel", {"privileged": False}),
    "hc_novel_mlp_sym": ("half_cheetah_novel", {"mlp": True, "privileged": False}),
    "hc_novel_mlp4_sym": ("half_cheetah_novel", {"mlp": True, "frames": 4, "privileged": False}),
    # levers for the GRU on the masked variant: BPTT over 64-step chunks; rl-zoo's exploration
    "hc_novel_gru_chunk64": ("half_cheetah_novel", {"policy": {"chunk_length": 64}}),
    "hc_novel_gru_narrow": ("half_cheetah_novel", {"policy": RL_ZOO_HC}),
    "hc_novel_mlp_narrow": ("half_cheetah_novel", {"mlp": True, "policy": RL_ZOO_HC}),
    "hc_novel_mlp4_narrow": ("half_cheetah_novel", {"mlp": True, "frames": 4, "policy": RL_ZOO_HC}),
    "walker_full_gru": ("walker2d_full", {}),
    "walker_full_mlp": ("walker2d_full", {"mlp": True}),
    "walker_imu_gru": ("walker2d_imu", {}),
    "walker_imu_mlp": ("walker2d_imu", {"mlp": True}),
    "hopper_full_gru": ("hopper_full", {}),
    "hopper_full_mlp": ("hopper_full", {"mlp": True}),
    "hopper_imu_gru": ("hopper_imu", {}),
    "hopper_imu_mlp": ("hopper_imu", {"mlp": True}),
    "ant_full_gru": ("ant_full", {}),
    "ant_imu_gru": ("ant_imu", {}),
    "ant_imu_mlp": ("ant_imu", {"mlp": True}),
    "ant_full_mlp": ("ant_full", {"mlp": True}),
}


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def run_one(name: str, seed: int, ranks: int, steps: int, workdir: Path) -> dict:
    """Train one configuration; returns its JSON record."""
    shipped, options = RUNS[name]
    overrides = variant(shipped, **options)
    base = load_scenario(shipped)
    envs = base.policy.num_envs or base.env.num_envs
    if envs % ranks:
        raise SystemExit(f"{name}: {envs} envs cannot be shared by {ranks} ranks")
    per_rank = {"seed": seed, "policy": {"num_envs": envs // ranks, "total_steps": steps, "device": "cpu"}}
    scenario = load_scenario(shipped, _merge(overrides, per_rank))
    path = workdir / f"{name}-s{seed}.yaml"
    path.write_text(yaml.safe_dump(scenario.to_dict()))
    run_dir = workdir / f"{name}-s{seed}"
    cmd = ["-m", "rnn_control", "train-policy", "--scenario", str(path), "--run-dir", str(run_dir)]
    cmd.append("--no-progress")
    if ranks > 1:
        cmd = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks), *cmd]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name} seed {seed} failed:\n{proc.stderr[-3000:]}")
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    evals = [r for r in rows if r["eval_return"]]
    last = evals[-1]
    return {
        "run": name,
        "scenario": shipped,
        "seed": seed,
        "ranks": ranks,
        "steps": int(rows[-1]["step"]),
        "eval_return": round(float(last["eval_return"]), 1),
        "eval_std": round(float(last["eval_std"]), 1),
        "best_eval": round(max(float(r["eval_return"]) for r in evals), 1),
        "train_time_s": round(float(rows[-1]["time_s"]), 1),
        "wall_s": round(wall, 1),
        "curve": [(int(r["step"]), round(float(r["eval_return"]), 1)) for r in evals],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", nargs="+", default=["hc_full_gru", "hc_imu_gru"], choices=sorted(RUNS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--ranks", type=int, default=2, help="torchrun processes per run (1: no torchrun)")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--out", default="bench/results/locomotion.jsonl")
    parser.add_argument("--list", action="store_true", help="list the runs and exit")
    args = parser.parse_args()
    if args.list:
        for name, (shipped, _) in RUNS.items():
            print(f"{name:18s} {shipped}")
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench_locomotion_") as tmp:
        for name in args.runs:
            for seed in args.seeds:
                print(f"{name} seed {seed}: {args.steps} steps on {args.ranks} rank(s) ...", flush=True)
                record = run_one(name, seed, args.ranks, args.steps, Path(tmp))
                with out.open("a") as f:
                    f.write(json.dumps(record) + "\n")
                print(
                    f"  return {record['eval_return']} +/- {record['eval_std']} (best {record['best_eval']}) "
                    f"in {record['wall_s']:.0f} s",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
