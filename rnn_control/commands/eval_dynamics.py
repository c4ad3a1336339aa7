"""``rnn-control eval-dynamics``: multi-step open-loop RMSE of a dynamics checkpoint.

    rnn-control eval-dynamics runs/pend-gru/checkpoint.pt --horizons 10 50 100

Uses the held-out episodes saved next to the checkpoint (``heldout.npz``), a dataset given with
``--data``, or, with ``--episodes N``, N fresh episodes collected from the checkpoint's scenario.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = """examples:
  rnn-control eval-dynamics runs/pend-gru/checkpoint.pt
  rnn-control eval-dynamics runs/pend-gru/checkpoint.pt --horizons 10 50 100 --episodes 16
nRMSE: open-loop error normalised per observation dimension by its std (1.0 = predicting the mean)."""
    parser.add_argument("checkpoint", help="a dynamics checkpoint (checkpoint.pt in a run folder)")
    parser.add_argument("--horizons", type=int, nargs="+", default=[10, 50, 100], help="open-loop steps")
    parser.add_argument(
        "--history", type=int, help="true steps that warm the state first (default: dynamics.eval_history)"
    )
    parser.add_argument(
        "--data", help="episode dataset (.npz) to evaluate on (default: the run's heldout.npz)"
    )
    parser.add_argument("--episodes", type=int, help="collect this many fresh episodes instead")
    parser.add_argument("--seed", type=int, default=12345, help="seed of freshly collected episodes")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from rnn_control.errors import ConfigError
    from rnn_control.models import build_model
    from rnn_control.scenario import scenario_from_dict
    from rnn_control.train.common.checkpoint import load_checkpoint
    from rnn_control.train.dynamics.open_loop import evaluate_open_loop
    from rnn_control.train.dynamics.rollouts import EpisodeDataset, collect_rollouts

    torch.set_num_threads(1)
    ckpt_path = Path(args.checkpoint)
    ckpt = load_checkpoint(ckpt_path, kind="dynamics")
    model = build_model(ckpt)
    scenario = scenario_from_dict(ckpt["config"])
    if args.episodes:
        d = scenario.dynamics
        data = collect_rollouts(
            scenario.env, args.episodes, d.exploration, seed=args.seed,
            noise_scale=d.noise_scale, pink_beta=d.pink_beta, ou_theta=d.ou_theta, progress=True,
        )  # fmt: skip
        source = f"{args.episodes} fresh episodes (seed {args.seed})"
    else:
        path = (
            Path(args.data)
            if args.data
            else ckpt_path.parent / ckpt.get("data", {}).get("heldout", "heldout.npz")
        )
        if not path.is_file():
            raise ConfigError(
                f"{path}: no held-out data next to the checkpoint; give --data FILE or --episodes N"
            )
        data = EpisodeDataset.load(path)
        source = f"{path} ({data.num_episodes} episodes)"
    if data.obs_dim != model.obs_dim or data.act_dim != model.act_dim:
        raise ConfigError(
            f"data has obs/action sizes {data.obs_dim}/{data.act_dim}, "
            f"the model expects {model.obs_dim}/{model.act_dim}"
        )
    history = args.history or scenario.dynamics.eval_history
    report = evaluate_open_loop(model, data, sorted(args.horizons), history)
    if args.json:
        print(
            json.dumps(
                {"checkpoint": str(ckpt_path), "rmse": report.rmse, "rmse_per_dim": report.rmse_per_dim}
            )
        )
        return 0
    label = ckpt["model_kwargs"].get("cell", ckpt["model_class"])
    print(f"{ckpt_path}: {ckpt['model_class']} ({label}), {ckpt['step']} updates, scenario {scenario.name}")
    print(f"data: {source}; {report.num_windows} windows, history {history} steps")
    print(report.table())
    return 0
