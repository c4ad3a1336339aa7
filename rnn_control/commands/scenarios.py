"""``rnn-control scenarios``: list shipped scenarios with their descriptions."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help="also validate every scenario: its schema, and that its env builds with its wrappers",
    )


def run(args: argparse.Namespace) -> int:
    from rnn_control.config import load_yaml
    from rnn_control.scenario import available_scenarios, load_scenario, resolve_scenario

    for name in available_scenarios():
        data = load_yaml(resolve_scenario(name))
        print(f"{name:28s} {data.get('description', '')}")
        if args.check:
            from rnn_control.envs import make_env

            make_env(load_scenario(name).env).close()
    return 0
