"""``rnn-control demo``: train, export, run the ROS 2 closed loop, report (see rnn_control.demo)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="a ~1-minute run on a tiny budget (what the tests run)"
    )
    parser.add_argument(
        "--run-dir", default=None, help="run folder (default runs/demo, or runs/demo-quick with --quick)"
    )
    from rnn_control.demo.settings import DEFAULT_SCENARIO

    parser.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        help=f"scenario name or YAML path (default {DEFAULT_SCENARIO})",
    )
    parser.add_argument(
        "--episodes", type=int, default=None, help="closed-loop episodes over ROS (default 5; quick 2)"
    )
    parser.add_argument(
        "--domain-id",
        type=int,
        default=None,
        help="ROS_DOMAIN_ID for the nodes (default: a free one on this machine)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="delete an earlier demo run in the run folder first"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from rnn_control.demo.pipeline import run_demo
    from rnn_control.demo.settings import DemoSettings
    from rnn_control.errors import ConfigError

    if args.episodes is not None and args.episodes < 1:
        raise ConfigError("--episodes must be >= 1")
    settings = DemoSettings.make(args.scenario, quick=args.quick, episodes=args.episodes)
    run_dir = args.run_dir or ("runs/demo-quick" if args.quick else "runs/demo")
    outcome = run_demo(
        settings, run_dir, domain_id=args.domain_id, fresh=args.fresh, progress=not args.no_progress
    )
    print(f"demo finished in {outcome.seconds:.0f} s; run folder {outcome.run_dir}")
    for name, why in outcome.unavailable.items():
        print(f"  stage '{name}' not run: {why}")
    return 0
