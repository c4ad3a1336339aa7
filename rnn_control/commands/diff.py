"""``rnn-control diff A.onnx B.onnx`` / ``diff A.onnx --joints j1 j2 ...`` / ``--urdf robot.urdf`` /
``--mjcf robot.xml``: what differs between two bundles' deployment contracts, or between a bundle
and a robot. One line per difference, naming the joint (or field) and both values.

Exit code 0: identical (two bundles) or compatible (bundle and robot); 1: they differ; 2: a
file cannot be read. The comparison is :mod:`rnn_control.contract.compare` (what the policy
node's ``robot_joints`` / ``robot_description_file`` check runs too).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnn_control.errors import RnnControlError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="ONNX bundle")
    parser.add_argument("other", type=Path, nargs="?", help="a second bundle to compare with")
    parser.add_argument(
        "--joints", nargs="+", metavar="JOINT",
        help="the robot's commanded joints in command order (e.g. a ros2_control controller's 'joints')",
    )  # fmt: skip
    parser.add_argument("--urdf", type=Path, help="the robot's URDF (expanded, not xacro)")
    parser.add_argument("--mjcf", type=Path, help="the robot's MuJoCo MJCF model")
    parser.add_argument(
        "--command-joints", nargs="+", metavar="JOINT",
        help="the command order when it is not the bundle's action order (policy node: command_joints)",
    )  # fmt: skip
    parser.add_argument(
        "--sidecar", type=Path, help="YAML IO sidecar for a first bundle without rnn_control metadata"
    )
    parser.add_argument(
        "--other-sidecar", type=Path, help="YAML IO sidecar for a second bundle without rnn_control metadata"
    )


def _labels(a: Path, b: Path) -> tuple[str, str]:
    return (str(a), str(b)) if a.name == b.name else (a.name, b.name)


def run(args: argparse.Namespace) -> int:
    from rnn_control.contract.compare import compare_bundles, compare_with_robot
    from rnn_control.contract.robot_description import joint_list, parse_mjcf, parse_urdf
    from rnn_control.runtime import read_bundle_metadata

    if not (args.other or args.joints or args.urdf or args.mjcf):
        raise RnnControlError("nothing to compare with: give a second bundle, --joints, --urdf or --mjcf")
    meta = read_bundle_metadata(args.bundle, args.sidecar)
    sections = []
    if args.other:
        other = read_bundle_metadata(args.other, args.other_sidecar)
        labels = _labels(args.bundle, args.other)
        sections.append((f"{labels[0]} vs {labels[1]}", compare_bundles(meta, other, labels)))
    robots = []
    if args.joints:
        robots.append(joint_list(args.joints, "the joint list"))
    if args.urdf:
        robots.append(parse_urdf(args.urdf))
    if args.mjcf:
        robots.append(parse_mjcf(args.mjcf))
    name = args.bundle.name
    for robot in robots:
        differences = compare_with_robot(meta, robot, args.command_joints, label=name)
        sections.append((f"{name} vs {robot.source}", differences))
    total = 0
    for title, differences in sections:
        total += len(differences)
        if not differences:
            print(f"{title}: no differences")
            continue
        print(f"{title}: {len(differences)} difference{'s' if len(differences) != 1 else ''}")
        for d in differences:
            print(f"  {d}")
    return 1 if total else 0
