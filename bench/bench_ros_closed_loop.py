"""Closed loop over ROS topics vs in-process evaluation of the same policy.

The sim bridge (rebuilding the scenario stored in the bundle) and the policy node run as two
processes talking over DDS; the episode returns published by the bridge are compared with

- the same bundle stepped in-process by the torch-free runtime (same env seeds), and
- with ``--checkpoint``: the PyTorch checkpoint evaluated by ``rnn_control.train.policy.evaluate``.

    nice python bench/bench_ros_closed_loop.py --bundle policy.onnx --checkpoint policy.pt --episodes 10
    nice python bench/bench_ros_closed_loop.py --bundle policy.onnx --mode realtime

``lockstep`` (default) steps the env as soon as the command for the last observation arrives, so
the ROS loop is the same computation as the in-process one; ``realtime`` runs the bridge at the
control period and applies whatever command has arrived (what a robot sees).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(60 + os.getpid() % 40))


def runtime_returns(bundle: Path, episodes: int, seed: int) -> list[float]:
    """The bundle stepped in-process by the runtime, episode k reset with seed + k."""
    from rnn_control.envs.bundle_returns import bundle_returns

    return bundle_returns(bundle, episodes, seed)


def checkpoint_returns(checkpoint: Path, episodes: int, seed: int) -> list[float]:
    """The PyTorch checkpoint through the policy trainer's deterministic evaluator."""
    from rnn_control.models import build_model
    from rnn_control.scenario import scenario_from_dict
    from rnn_control.train.common.checkpoint import load_checkpoint
    from rnn_control.train.policy.evaluate import evaluate_policy

    ckpt = load_checkpoint(checkpoint, kind="policy")
    model = build_model(ckpt)
    scenario = scenario_from_dict(ckpt["config"])
    result = evaluate_policy(
        model, scenario.env, episodes=episodes, seed=seed, nominal_dt=float(ckpt.get("control_period", 0.05))
    )
    return result.returns


def ros_returns(bundle: Path, episodes: int, seed: int, mode: str) -> list[float]:
    import rclpy
    from std_msgs.msg import Float64

    from rnn_control.ros.common import result_qos
    from tests.ros_support import NodeProcess, Probe

    tmp = Path(tempfile.mkdtemp(prefix="ros_closed_loop_"))
    config = ROOT / "config" / "sim_closed_loop.yaml"
    ns = "/closed_loop"
    policy = NodeProcess("policy_node", {"bundle": bundle}, tmp, "policy_node", config, ns)
    bridge = NodeProcess(
        "sim_bridge_node",
        {"bundle": bundle, "mode": mode, "max_episodes": episodes, "seed": seed},
        tmp,
        "sim_bridge",
        config,
        ns,
    )
    rclpy.init()
    probe = Probe("closed_loop_probe")
    returns = probe.collect(Float64, f"{ns}/sim_bridge/episode_return", result_qos())
    t0 = time.monotonic()
    try:
        probe.spin_until(lambda: len(returns) >= episodes or not bridge.alive(), 3600, "the episodes")
    finally:
        policy.stop(signal.SIGINT)
        bridge.stop(signal.SIGINT)
        probe.close()
        rclpy.try_shutdown()
    print(f"ROS closed loop ({mode}): {len(returns)} episodes in {time.monotonic() - t0:.1f} s")
    if len(returns) < episodes:
        print(bridge.log()[-3000:])
    return [r.data for r in returns]


def main() -> int:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--bundle", type=Path, required=True, help="policy bundle whose metadata holds the scenario"
    )
    ap.add_argument("--checkpoint", type=Path, help="the checkpoint the bundle was exported from")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--mode", choices=["lockstep", "realtime"], default="lockstep")
    args = ap.parse_args()

    rows = [
        (
            "ROS closed loop (" + args.mode + ")",
            ros_returns(args.bundle, args.episodes, args.seed, args.mode),
        ),
        ("runtime in-process", runtime_returns(args.bundle, args.episodes, args.seed)),
    ]
    if args.checkpoint:
        rows.append(
            ("PyTorch checkpoint in-process", checkpoint_returns(args.checkpoint, args.episodes, args.seed))
        )
    print(f"\n{'evaluation':32s} {'mean':>10s} {'std':>8s}  episodes")
    for name, r in rows:
        print(f"{name:32s} {np.mean(r):10.2f} {np.std(r):8.2f}  {len(r)}")
    ros, ref = np.array(rows[0][1]), np.array(rows[1][1])
    if len(ros) == len(ref):
        print(f"max |ROS - runtime| per episode: {np.abs(ros - ref).max():.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
