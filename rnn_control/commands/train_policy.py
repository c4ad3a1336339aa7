"""``rnn-control train-policy``: train a recurrent policy with PPO, behaviour cloning or DAgger."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario", required=True, help="scenario YAML path or shipped name (e.g. pendulum_novel)"
    )
    parser.add_argument("--run-dir", default=None, help="output folder (default: runs/<scenario>)")
    parser.add_argument(
        "--steps", type=int, default=None, help="total env steps (overrides policy.total_steps)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (overrides the scenario's)")
    parser.add_argument(
        "--algorithm", choices=("ppo", "bc", "dagger"), default=None, help="override policy.algorithm"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --run-dir from its checkpoint"
    )
    parser.add_argument(
        "--bag",
        nargs="+",
        metavar="PATH",
        help="behaviour cloning from these rosbag2 recordings (the recorded commands are the labels; "
        "the scenario's bag: section maps topics to fields; overrides bag.paths)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Train the scenario's policy (``policy.algorithm``, or ``--algorithm``) and print a summary."""
    from pathlib import Path

    from rnn_control.scenario import load_scenario
    from rnn_control.train.common.distributed import quiet_unless_rank_zero
    from rnn_control.train.common.run import BEST_CHECKPOINT
    from rnn_control.train.policy.algorithms import train_policy

    reports = quiet_unless_rank_zero()  # under torchrun, rank 0 reports for the group

    overrides: dict = {}
    if args.seed is not None:
        overrides["seed"] = args.seed
    policy: dict = {}
    if args.steps is not None:
        policy["total_steps"] = args.steps
    if args.algorithm is not None:
        policy["algorithm"] = args.algorithm
    if policy:
        overrides["policy"] = policy
    if args.bag:
        overrides["bag"] = {"paths": [str(p) for p in args.bag]}
        overrides.setdefault("policy", {}).setdefault("algorithm", "bc")
    scenario = load_scenario(args.scenario, overrides)
    run_dir = Path(args.run_dir or Path("runs") / (scenario.name or "policy"))
    if args.bag or scenario.bag.paths:
        return _from_bags(scenario, run_dir)
    result = train_policy(scenario, run_dir, resume=args.resume, progress=not args.no_progress)
    if not reports:
        return 0
    print(
        f"trained {scenario.name} with {scenario.policy.algorithm}: {result.steps} env steps in "
        f"{result.train_time_s:.1f} s of training"
    )
    print(f"deterministic evaluation: return {result.final_eval_return:.1f} +/- {result.final_eval_std:.1f}")
    if result.first_target is not None:
        ft = result.first_target
        print(
            f"target return first reached at step {ft['step']} "
            f"after {ft['time_s']:.1f} s of training ({ft['return']:.1f})"
        )
    print(f"checkpoint: {result.checkpoint}")
    best = result.checkpoint.with_name(BEST_CHECKPOINT)
    if best.is_file():
        b = best_eval(best)
        print(f"best evaluation: return {b['return']:.1f} +/- {b['std']:.1f} at step {b['step']}: {best}")
    if result.learning_curve is not None:
        print(f"learning curve: {result.learning_curve}")
    print(f"TensorBoard: tensorboard --logdir {run_dir / 'tb'}")
    return 0


def best_eval(path) -> dict:
    """The ``best_eval`` entry of a run's best.pt."""
    from rnn_control.train.common.checkpoint import load_checkpoint

    return load_checkpoint(path, kind="policy")["best_eval"]


def _from_bags(scenario, run_dir) -> int:
    """Behaviour cloning from the scenario's bags."""
    from rnn_control.train.common.bag_data import read_scenario_bags
    from rnn_control.train.policy.bc_bag import train_bc_from_bags

    data = read_scenario_bags(scenario)
    print("\n".join(data.report.lines()))
    result = train_bc_from_bags(scenario, run_dir, data)
    r = result.report
    print(
        f"behaviour cloning from bags: {r['train_steps']} steps in {result.train_time_s:.1f} s; action error "
        f"(RMSE / half-range) train {r['train_action_nrmse']:.3f}, held out {r['heldout_action_nrmse']:.3f}"
    )
    print(f"checkpoint: {result.checkpoint}")
    return 0
