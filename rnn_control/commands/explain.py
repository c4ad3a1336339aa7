"""``rnn-control explain``: gate activations and input attribution of a recurrent policy."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "policy", metavar="CHECKPOINT_OR_BUNDLE", help="policy checkpoint (.pt) or bundle (.onnx)"
    )
    parser.add_argument(
        "--scenario",
        default=None,
        help="scenario to run the episode in (default: the one stored in the checkpoint/bundle)",
    )
    parser.add_argument(
        "-o", "--out", default=None, help="output folder (default: explain/ beside the input)"
    )
    parser.add_argument("--window", type=int, default=32, help="history window W in steps (default 32)")
    parser.add_argument(
        "--times", type=int, default=64, help="number of time steps t averaged over (default 64)"
    )
    parser.add_argument(
        "--method",
        choices=("ig", "gxi", "fd"),
        default="ig",
        help="integrated gradients (default), gradient x input, or finite differences (any bundle)",
    )
    parser.add_argument("--seed", type=int, default=0, help="episode seed")
    parser.add_argument("--max-steps", type=int, default=None, help="cut the episode after this many steps")
    parser.add_argument("--no-grad-flow", action="store_true", help="skip the gradient-flow diagnostic")


def run(args: argparse.Namespace) -> int:
    from rnn_control.errors import ConfigError
    from rnn_control.explain.report import explain

    if args.window < 1 or args.times < 1:
        raise ConfigError("--window and --times must be >= 1")
    result = explain(
        args.policy,
        scenario=args.scenario,
        out_dir=args.out,
        window=args.window,
        n_times=args.times,
        method=args.method,
        seed=args.seed,
        max_steps=args.max_steps,
        grad_flow=not args.no_grad_flow,
    )
    print(result.text)
    for name, path in result.files.items():
        print(f"  {name:12s} {path}")
    return 0
