"""Benchmark: recurrent dynamics models vs a window-MLP baseline on velocity-masked Pendulum-v1.

Measures, in one run on one data set:

1. open-loop prediction error (RMSE normalised per dimension, over the first 10 / 50 / 100
   steps) on held-out episodes, for GRU, LSTM and Elman RNN models and the window-MLP baseline
   (last ``k`` observations+actions), all trained with the same data, updates and batches;
2. training throughput (sequence samples/s) of the fused-kernel path against the same GRU run
   step by step in a Python loop;
3. gradient flow ``||dL/dh_(T-lag)||`` for fresh and trained rnn / lstm / gru (table + PNGs).

    nice python bench/bench_dynamics.py                    # ~5 minutes on 2 busy cores
    nice python bench/bench_dynamics.py --updates 300      # quick look

Results are printed as Markdown (paste into BENCHMARKS.md) and figures written to --out.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rnn_control.scenario import load_scenario  # noqa: E402
from rnn_control.train.dynamics import grad_flow as gf  # noqa: E402
from rnn_control.train.dynamics.batch_loss import apply_batch  # noqa: E402
from rnn_control.train.dynamics.rollouts import collect_rollouts  # noqa: E402
from rnn_control.train.dynamics.sequences import SequenceSampler  # noqa: E402
from rnn_control.train.dynamics.trainer import DynamicsTrainer  # noqa: E402


def scenario_for(name: str, args: argparse.Namespace):
    """pendulum_novel with the bench's data settings and one model variant."""
    dyn = {
        "total_updates": args.updates,
        "exploration": args.exploration,
        "train_episodes": args.train_episodes,
        "heldout_episodes": args.heldout_episodes,
        "checkpoint_every": args.updates,
        "loss": "nll",
        "window": args.window,
    }
    if args.noise_scale is not None:
        dyn["noise_scale"] = args.noise_scale
    model = {"hidden_size": 64, "num_layers": 1}
    kind, _, loss = name.partition("-")  # e.g. "gru", "mlp", "lstm-mse"
    if loss:
        dyn["loss"] = loss
    if kind == "mlp":
        dyn["model_type"] = "window_mlp"
    else:
        model["cell"] = kind
    return load_scenario(args.scenario, {"seed": args.seed, "dynamics": dyn, "model": model})


def throughput(trainer: DynamicsTrainer, seconds: float) -> dict[str, float]:
    """Sequence samples/s of full training updates: fused kernel vs a Python step loop."""
    model, cfg = trainer.model, trainer.cfg
    sampler = SequenceSampler(trainer.train_data, cfg.chunk_length, cfg.burn_in, cfg.batch_size, seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def fused_update(batch):
        loss, _ = apply_batch(model, batch, "nll")
        return loss

    def step_update(batch):
        b = batch.burn_in
        x = model.normalize_input(batch.obs, batch.act)
        with torch.no_grad():
            _, state = model.step_features_python(
                x[:b], model.initial_state(x.shape[1]), batch.episode_start[:b]
            )
        feats, _ = model.step_features_python(x[b:], state, batch.episode_start[b:])
        mean, log_std = model.head(feats).chunk(2, dim=-1)
        log_std = log_std.clamp(model.log_std_min, model.log_std_max)
        target = model.target(batch.obs[b:], batch.next_obs[b:])
        return model.loss(mean, log_std, target, batch.loss_mask[b:], "nll")

    # Alternate short rounds of both paths so that load from other processes hits both alike.
    counts = {"fused": [0, 0.0], "python-step": [0, 0.0]}
    fns = {"fused": fused_update, "python-step": step_update}
    t_end = time.perf_counter() + 2 * seconds
    while time.perf_counter() < t_end or min(c[0] for c in counts.values()) < 3:
        for name, fn in fns.items():
            for _ in range(3):
                batch = sampler.sample()
                t0 = time.perf_counter()
                loss = fn(batch)
                opt.zero_grad()
                loss.backward()
                opt.step()
                counts[name][0] += 1
                counts[name][1] += time.perf_counter() - t0
    out = {name: n * cfg.batch_size / secs for name, (n, secs) in counts.items()}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default="pendulum_novel", help="scenario (its env; data settings below)")
    p.add_argument("--updates", type=int, default=5000)
    p.add_argument("--models", nargs="+", default=["gru", "lstm", "rnn", "mlp", "mlp-mse"])
    p.add_argument("--exploration", default="pink")
    p.add_argument("--noise-scale", type=float, help="override dynamics.noise_scale")
    p.add_argument("--train-episodes", type=int, default=96)
    p.add_argument("--heldout-episodes", type=int, default=16)
    p.add_argument("--window", type=int, default=8, help="k of the window-MLP baseline")
    p.add_argument("--throughput-seconds", type=float, default=8.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--work", default="/tmp/bench_dynamics", help="folder for the run folders (checkpoints, data)"
    )
    p.add_argument("--figures", default=str(ROOT / "bench" / "figures"), help="folder for the PNG figures")
    args = p.parse_args()
    torch.set_num_threads(1)
    out, work = Path(args.figures), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)

    base = scenario_for("gru", args)
    t0 = time.perf_counter()
    d = base.dynamics
    data = collect_rollouts(base.env, d.train_episodes + d.heldout_episodes, d.exploration, seed=args.seed,
                            noise_scale=d.noise_scale, pink_beta=d.pink_beta, progress=True)  # fmt: skip
    data = data.split(d.heldout_episodes, seed=args.seed)
    print(f"data: {data[0].num_episodes} train / {data[1].num_episodes} held-out episodes of "
          f"{base.env.id} (velocity masked), exploration '{d.exploration}', "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)  # fmt: skip

    rows, trainers = [], {}
    for name in args.models:
        sc = scenario_for(name, args)
        trainer = DynamicsTrainer(
            sc, work / f"run-{name}", data=data, progress=True, tensorboard=False, resume=False
        )
        params = sum(p.numel() for p in trainer.model.parameters())
        res = trainer.train()
        trainers[name] = trainer
        rows.append((name, params, res.train_time_s, res.report))
        print(f"{name}: {res.train_time_s:.1f} s, {res.report.rmse}", file=sys.stderr)

    print(f"\nMachine: {platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread; "
          f"{args.updates} updates x batch {d.batch_size} x (burn-in {d.burn_in} + chunk {d.chunk_length}) "
          f"per model, same data\n")  # fmt: skip
    horizons = rows[0][3].horizons
    print("| model | params | train s | " + " | ".join(f"nRMSE {h}" for h in horizons) + " |")
    print("|---|---|---|" + "---|" * len(horizons))
    for name, params, secs, rep in rows:
        kind, _, loss = name.partition("-")
        label = f"window MLP k={args.window}" if kind == "mlp" else kind.upper()
        label += f" ({loss.upper()} loss)" if loss else ""
        cells = " | ".join(f"{rep.rmse[h]:.3f}" for h in horizons)
        print(f"| {label} | {params} | {secs:.0f} | {cells} |")
    mlps = {r[0].partition("-")[2]: r for r in rows if r[0].startswith("mlp")}  # loss suffix -> row
    best_mlp = min(mlps.values(), key=lambda r: r[3].rmse[50], default=None)
    for name, _, _, rep in rows:
        if name.startswith("mlp"):
            continue
        same_loss = mlps.get(name.partition("-")[2])
        parts = []
        if same_loss is not None:
            parts.append(f"{rep.rmse[50] / same_loss[3].rmse[50]:.2f} vs {same_loss[0]} (same loss)")
        if best_mlp is not None and best_mlp is not same_loss:
            parts.append(f"{rep.rmse[50] / best_mlp[3].rmse[50]:.2f} vs the best window MLP ({best_mlp[0]})")
        if parts:
            print(f"\n{name.upper()} 50-step error ratio: " + "; ".join(parts) + " (goal: <= 0.5)", end="")
    print()

    tp_rows = [
        (c, throughput(trainers[c], args.throughput_seconds)) for c in ("gru", "lstm") if c in trainers
    ]
    if tp_rows:
        steps = d.burn_in + d.chunk_length
        print(f"\nTraining throughput (full update: forward, backward, Adam), hidden 64, "
              f"batch {d.batch_size} x {steps} steps, windows crossing episode ends:")  # fmt: skip
        print(
            "| model | fused kernel (samples/s) | Python step loop (samples/s) | ratio |\n|---|---|---|---|"
        )
        for c, tp in tp_rows:
            ratio = tp["fused"] / tp["python-step"]
            print(f"| {c.upper()} | {tp['fused']:.0f} | {tp['python-step']:.0f} | {ratio:.1f}x |")

    train_data = data[0]
    seqs = gf.sequences_from(train_data, 100, 16, seed=args.seed)
    fresh = [
        gf.gradient_flow(m, *seqs) for m in gf.fresh_models(["rnn", "lstm", "gru"], train_data, 64, 1, 0)
    ]
    print("\nGradient flow, fresh models (relative ||dL/dh|| by lag):\n```")
    print(gf.table(fresh))
    print("```")
    gf.plot(fresh, out / "grad_flow_fresh.png", f"Gradient flow, fresh models (hidden 64), {base.name}")
    trained = [
        gf.gradient_flow(trainers[c].model, *seqs, label=c) for c in ("rnn", "lstm", "gru") if c in trainers
    ]
    if trained:
        print("\nGradient flow, trained models:\n```")
        print(gf.table(trained))
        print("```")
        gf.plot(trained, out / "grad_flow_trained.png", f"Gradient flow after {args.updates} updates")
    print(f"\nfigures: {out / 'grad_flow_fresh.png'}, {out / 'grad_flow_trained.png'}; "
          f"total {time.perf_counter() - t0:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
