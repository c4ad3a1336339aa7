"""``rnn-control scenarios``: list shipped scenarios with their descriptions."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="also load and validate every scenario")


def run(args: argparse.Namespace) -> int:
    from rnn_control.config import load_yaml
    from rnn_control.scenario import available_scenarios, load_scenario, resolve_scenario

    for name in available_scenarios():
        data = load_yaml(resolve_scenario(name))
        print(f"{name:28s} {data.get('description', '')}")
        if args.check:
            load_scenario(name)
    return 0
