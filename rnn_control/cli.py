"""The ``rnn-control`` command line.

Each subcommand lives in its own module under :mod:`rnn_control.commands` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their
command runs (``--help`` stays fast and works without torch installed); heavy imports go inside
``run``. To add a command: write the module and add one line to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rnn_control import __version__
from rnn_control.errors import RnnControlError

# name -> (module under rnn_control.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "scenarios": ("scenarios", "List the shipped simulation scenarios"),
    "train-dynamics": ("train_dynamics", "Train a recurrent dynamics model on simulated rollouts or bags"),
    "train-mbrl": ("train_mbrl", "Model-based loop: collect with MPC on the learned model, refit, repeat"),
    "eval-dynamics": ("eval_dynamics", "Multi-step open-loop prediction error of a dynamics model"),
    "grad-flow": ("grad_flow", "Gradient norm dLoss/dh_t against time lag (vanishing/exploding)"),
    "train-policy": ("train_policy", "Train a recurrent policy (PPO or behaviour cloning)"),
    "eval-policy": ("eval_policy", "Deterministic evaluation of a policy checkpoint"),
    "export": ("export", "Export a checkpoint to a self-describing ONNX bundle"),
    "inspect": ("inspect", "Print a bundle's metadata and inputs/outputs"),
    "calibrate-monitor": ("calibrate_monitor", "Set a dynamics bundle's alarm threshold on nominal bags"),
    "diff": ("diff", "What differs between two bundles, or a bundle and a robot (joints, URDF, MJCF)"),
    "bench-runtime": ("bench_runtime", "Per-step latency of the onnxruntime stepper"),
    "demo": ("demo", "End to end: train, export, run the ROS 2 closed loop, report"),
    "explain": ("explain", "Gate activations and input attribution over time for a policy"),
    "record": ("record", "Record ROS 2 topics to a rosbag2 recording (MCAP) for training from bags"),
}


def build_parser(with_command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnn-control",
        description="Recurrent neural network control for ROS 2: train in simulation, export ONNX "
        "bundles, deploy. Run 'rnn-control COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"rnn_control {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == with_command:
            _load(module).add_arguments(p)
    return parser


def _load(module: str):
    try:
        return importlib.import_module(f"rnn_control.commands.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"rnn_control.commands.{module}":
            raise RnnControlError(f"command module '{module}' is not available in this version") from exc
        raise RnnControlError(
            f"missing dependency '{exc.name}': install the training extras with "
            "'pip install -c constraints.txt -e .[train]'"
        ) from exc


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(command if command in COMMANDS else None)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return int(_load(COMMANDS[args.command][0]).run(args) or 0)
    except RnnControlError as exc:
        print(f"rnn-control: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnn-control: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
