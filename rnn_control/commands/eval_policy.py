"""``rnn-control eval-policy``: deterministic evaluation of a policy checkpoint."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="policy checkpoint (RUN_DIR/checkpoint.pt)")
    parser.add_argument("--episodes", type=int, default=10, help="number of episodes (default 10)")
    parser.add_argument("--seed", type=int, default=12345, help="episode k is reset with seed + k")
    parser.add_argument(
        "--scenario",
        default=None,
        help="evaluate in this scenario's env instead of the training one (e.g. with larger dt jitter); "
        "its observation space must match the checkpoint's",
    )
    parser.add_argument("--json", action="store_true", help="print the per-episode returns as JSON")


def run(args: argparse.Namespace) -> int:
    import json

    import torch

    from rnn_control.envs.factory import make_env
    from rnn_control.envs.timing import control_period
    from rnn_control.errors import ConfigError
    from rnn_control.models import build_model
    from rnn_control.scenario import load_scenario, scenario_from_dict
    from rnn_control.train.common.checkpoint import load_checkpoint
    from rnn_control.train.policy.evaluate import evaluate_policy
    from rnn_control.train.policy.setup import check_observation_space

    if args.episodes < 1:
        raise ConfigError(f"--episodes: must be >= 1, got {args.episodes}")
    torch.set_num_threads(1)
    ckpt = load_checkpoint(args.checkpoint, kind="policy")
    scenario = load_scenario(args.scenario) if args.scenario else scenario_from_dict(ckpt["config"])
    probe = make_env(scenario.env)
    check_observation_space(ckpt["spaces"], probe.observation_space, args.checkpoint)
    nominal = control_period(probe) or ckpt.get("control_period", 0.05)
    probe.close()
    model = build_model(ckpt)
    res = evaluate_policy(model, scenario.env, args.episodes, seed=args.seed, nominal_dt=nominal)
    where = f" in {scenario.name}" if args.scenario else ""
    print(f"{args.checkpoint}{where}: {res.summary()} (step {ckpt.get('step')})")
    if args.json:
        print(json.dumps({"returns": res.returns, "lengths": res.lengths, "mean": res.mean, "std": res.std}))
    return 0
