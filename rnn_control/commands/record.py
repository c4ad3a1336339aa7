"""``rnn-control record``: record ROS 2 topics to a rosbag2 recording (MCAP by default).

    rnn-control record -o logs/run1 /joint_states /effort_controller/commands
    rnn-control record -o logs/run2 --storage sqlite3 --compression zstd --duration 60 /joint_states

The recorder node (:mod:`rnn_control.ros.bag_recorder`) runs in this process until Ctrl-C,
``--duration`` or ``--max-messages``; the folder then holds the storage file and a
``metadata.yaml`` that ``ros2 bag info`` reads, ready for ``train-dynamics --bag``.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topics", nargs="+", help="topics to record (their types are discovered)")
    parser.add_argument("-o", "--output", required=True, help="rosbag2 folder to create (never overwritten)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    parser.add_argument("--compression", choices=("none", "zstd"), default="none")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to record (0: until Ctrl-C)")
    parser.add_argument("--max-messages", type=int, default=0, help="stop after this many messages")
    parser.add_argument(
        "--discovery-timeout", type=float, default=30.0, help="seconds to wait for a publisher of each topic"
    )


def ros_arguments(args: argparse.Namespace) -> list[str]:
    """The node's ``--ros-args`` for the command's options."""
    topics = "[" + ", ".join(f"'{t}'" for t in args.topics) + "]"
    params = {
        "output": args.output,
        "topics": topics,
        "storage": args.storage,
        "compression": args.compression,
        "duration": float(args.duration),
        "max_messages": int(args.max_messages),
        "discovery_timeout": float(args.discovery_timeout),
    }
    out = ["--ros-args"]
    for name, value in params.items():
        out += ["-p", f"{name}:={value}"]
    return out


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rnn_control.errors import BagError

    if Path(args.output).exists():
        raise BagError(f"{args.output}: exists already; a recording is never overwritten")
    try:
        from rnn_control.ros.bag_recorder import main
    except ImportError as exc:
        raise BagError(
            f"recording needs ROS 2 (rclpy) and rosbags: {exc}; source your distro or "
            "'pip install -e .[ros,bags]'"
        ) from None
    code = main(["rnn-control-record", *ros_arguments(args)])
    if code == 0 and (Path(args.output) / "metadata.yaml").is_file():
        print(f"recorded {args.output}")
    return code
