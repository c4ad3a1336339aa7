"""``rnn-control bench-runtime model.onnx``: per-step latency of the runtime stepper."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="ONNX bundle")
    parser.add_argument("--steps", type=int, default=10000, help="timed steps (default 10000, min 1000)")
    parser.add_argument("--warmup", type=int, default=500, help="untimed steps first (default 500)")
    parser.add_argument("--providers", default="auto", help="auto | cpu | cuda | tensorrt (default auto)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    parser.add_argument(
        "--controller",
        action="store_true",
        help="time Controller.step (IO spec + safety filter) instead of Stepper.step",
    )
    parser.add_argument("--sidecar", type=Path, help="YAML IO sidecar for foreign bundles")
    parser.add_argument("--trt-cache", type=Path, help="TensorRT engine cache directory (TensorRT provider)")
    parser.add_argument("--trt-fp16", action="store_true", help="let TensorRT build fp16 engines")


def latency_stats(samples_ns: list[int]) -> dict[str, float]:
    """p50 / p90 / p99 / max / mean in microseconds."""
    import numpy as np

    us = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return {
        "p50": float(np.percentile(us, 50)),
        "p90": float(np.percentile(us, 90)),
        "p99": float(np.percentile(us, 99)),
        "max": float(us.max()),
        "mean": float(us.mean()),
    }


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from rnn_control.errors import RnnControlError
    from rnn_control.runtime import Controller, Stepper

    if args.steps < 1000:
        raise RnnControlError(f"--steps must be >= 1000 for meaningful percentiles, got {args.steps}")
    policy = Stepper.load(
        args.bundle, providers=args.providers, intra_op_threads=args.threads, sidecar=args.sidecar
    )
    step = Controller(policy).step if args.controller else policy.step
    rng = np.random.default_rng(0)
    obs = rng.normal(0, 1, (1024, policy.obs_dim)).astype(np.float32)
    for i in range(args.warmup):
        step(obs[i % 1024])
    samples = [0] * args.steps
    clock = time.perf_counter_ns
    for i in range(args.steps):
        x = obs[i & 1023]
        t0 = clock()
        step(x)
        samples[i] = clock() - t0
    s = latency_stats(samples)
    m = policy.metadata
    what = "Controller.step" if args.controller else "Stepper.step"
    print(
        f"{args.bundle.name}: {m.cell} {m.num_layers}x{m.hidden_size} {m.precision}, {policy.provider}, "
        f"{args.threads} thread(s), {what}, {args.steps} steps"
    )
    print(
        f"  p50 {s['p50']:.1f} us   p90 {s['p90']:.1f} us   p99 {s['p99']:.1f} us   max {s['max']:.1f} us   "
        f"mean {s['mean']:.1f} us   (p99/p50 {s['p99'] / s['p50']:.2f})"
    )
    return 0
