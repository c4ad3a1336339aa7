"""``rnn-control export CHECKPOINT -o model.onnx``: a parity-checked, self-describing bundle."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="policy or dynamics checkpoint (.pt)")
    parser.add_argument("-o", "--output", type=Path, help="bundle path (default: CHECKPOINT with .onnx)")
    parser.add_argument("--fp16", action="store_true", help="also write <stem>.fp16.onnx (float16 weights)")
    parser.add_argument("--int8", action="store_true", help="also write <stem>.int8.onnx (dynamic int8)")
    parser.add_argument("--no-simplify", action="store_true", help="skip onnxslim graph simplification")
    parser.add_argument(
        "--parity-steps", type=int, default=1000, help="closed-loop parity steps (default 1000)"
    )
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max abs diff fp32 vs PyTorch (1e-4)")
    parser.add_argument("--fp16-tolerance", type=float, default=5e-2, help="max abs diff fp16 vs fp32 (5e-2)")
    parser.add_argument("--int8-tolerance", type=float, default=1e-1, help="max abs diff int8 vs fp32 (1e-1)")
    parser.add_argument("--seed", type=int, help="env seed of the parity rollout (default: scenario seed)")
    parser.add_argument(
        "--planning", nargs="*", type=int, metavar="N",
        help="write a planning bundle for MPC instead: --planning K H (K candidates x H steps per call; "
        "no numbers: the scenario's mpc samples/horizon, else 256 30); dynamics checkpoints only",
    )  # fmt: skip
    parser.add_argument(
        "--graph", choices=["unrolled", "loop"], default="unrolled",
        help="planning bundle: every step spelled out (default) or an ONNX Loop over the horizon",
    )  # fmt: skip
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (it registers custom model classes with @register_model); repeatable",
    )


def run(args: argparse.Namespace) -> int:
    from rnn_control.errors import RnnControlError

    if args.parity_steps < 10:
        raise RnnControlError(f"--parity-steps must be >= 10, got {args.parity_steps}")
    import torch

    from rnn_control.export.exporter import ExportOptions, export_checkpoint

    torch.set_num_threads(1)
    for module in args.imports:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise RnnControlError(f"--import {module}: cannot import it ({exc})") from None
    output = args.output or args.checkpoint.with_suffix(".onnx")
    if args.planning is not None:
        return _planning(args, output)
    opts = ExportOptions(
        fp16=args.fp16,
        int8=args.int8,
        simplify=not args.no_simplify,
        parity_steps=args.parity_steps,
        tolerance=args.tolerance,
        fp16_tolerance=args.fp16_tolerance,
        int8_tolerance=args.int8_tolerance,
        seed=args.seed,
        progress=True,
    )
    result = export_checkpoint(args.checkpoint, output, opts)
    meta = result.metadata
    p = meta.parity["torch_vs_onnxruntime"]
    print(
        f"wrote {result.path} ({result.path.stat().st_size / 1024:.1f} KiB): {meta.kind} {meta.cell} "
        f"{meta.num_layers}x{meta.hidden_size}, obs {meta.obs_dim} -> {meta.act_dim}"
    )
    print(
        f"  parity vs PyTorch over {p['steps']} closed-loop steps ({p['episodes']} episodes, {p['env']}): "
        f"output {p['max_abs_diff_output']:.2e}, state {p['max_abs_diff_state']:.2e} "
        f"(tolerance {meta.parity['tolerance']:g}); simplified: {meta.parity['simplified']}"
    )
    for name, path in result.variants.items():
        v = result.variant_parity[name]
        print(
            f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB): {name} vs fp32 over {v['steps']} steps: "
            f"output {v['max_abs_diff_output']:.2e}, state {v['max_abs_diff_state']:.2e} "
            f"(tolerance {v['tolerance']:g})"
        )
    return 0


def _planning(args: argparse.Namespace, output: Path) -> int:
    from rnn_control.errors import RnnControlError
    from rnn_control.export.planning import PlanningExportOptions, export_planning
    from rnn_control.scenario import scenario_from_dict
    from rnn_control.train.common.checkpoint import load_checkpoint

    if len(args.planning) not in (0, 2):
        raise RnnControlError(f"--planning takes K H (two numbers) or nothing, got {args.planning}")
    if args.planning:
        batch, horizon = args.planning
    else:
        mpc = scenario_from_dict(load_checkpoint(args.checkpoint, kind="dynamics")["config"]).mpc
        batch, horizon = mpc.samples or 256, mpc.horizon or 30
    opts = PlanningExportOptions(batch=batch, horizon=horizon, graph=args.graph, seed=args.seed)
    meta = export_planning(args.checkpoint, output, opts)
    p = meta.parity["torch_vs_onnxruntime"]
    plan = meta.planning
    print(
        f"wrote {output} ({output.stat().st_size / 1024:.1f} KiB): planning bundle, {meta.cell} "
        f"{meta.num_layers}x{meta.hidden_size}, {plan.members} member(s), {plan.batch} candidates x "
        f"{plan.horizon} steps per call ({plan.graph}), commands {[c.name for c in plan.commands]}"
    )
    print(
        f"  parity vs PyTorch over {p['ticks']} ticks ({p['env']}): plan {p['max_abs_diff_plan']:.2e} "
        f"(tolerance {meta.parity['tolerance']:g}), filtered state {p['max_abs_diff_state']:.2e}"
    )
    return 0
