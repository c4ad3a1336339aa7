"""``rnn-control grad-flow``: gradient norm dLoss/dh_t against time lag, as a table and a PNG.

    rnn-control grad-flow --cells rnn lstm gru                 # fresh models on pendulum_novel
    rnn-control grad-flow --checkpoint runs/a/checkpoint.pt runs/b/checkpoint.pt --out trained.png

A curve that drops by many orders of magnitude within a few dozen steps means the model cannot
learn dependencies that long (vanishing gradient); one that grows means exploding gradients.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``grad-flow`` options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = """examples:
  rnn-control grad-flow --cells rnn lstm gru --out grad_flow.png
  rnn-control grad-flow --checkpoint runs/pend-gru/checkpoint.pt runs/pend-lstm/checkpoint.pt"""
    parser.add_argument(
        "--scenario", default="pendulum_novel", help="scenario for fresh models and their data"
    )
    parser.add_argument(
        "--cells", nargs="+", default=["rnn", "lstm", "gru"], choices=["rnn", "lstm", "gru", "tgru"],
        help="cells of the fresh models to compare",
    )  # fmt: skip
    parser.add_argument("--checkpoint", nargs="+", help="measure these trained dynamics checkpoints instead")
    parser.add_argument("--length", type=int, default=100, help="sequence length (max lag + 1)")
    parser.add_argument("--batch", type=int, default=16, help="sequences averaged over")
    parser.add_argument("--episodes", type=int, default=8, help="episodes collected for fresh models")
    parser.add_argument("--hidden-size", type=int, help="hidden size of fresh models (default: scenario's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="grad_flow.png", help="PNG file to write")


def run(args: argparse.Namespace) -> int:
    """Measure fresh models (``--cells``) or trained checkpoints; print the table, write the PNG."""
    import torch

    from rnn_control.errors import ConfigError
    from rnn_control.scenario import load_scenario
    from rnn_control.train.dynamics import grad_flow as gf

    torch.set_num_threads(1)
    if args.length < 2:
        raise ConfigError(f"--length: need at least 2 steps, got {args.length}")
    if args.checkpoint:
        trained = [gf.load_trained(path) for path in args.checkpoint]
        first = trained[0]
        data = first.data or gf.scenario_rollouts(first.scenario, args.episodes, args.seed, progress=True)
        models, labels = [t.model for t in trained], [t.label for t in trained]
        title = "Gradient flow, trained models"
    else:
        scenario = load_scenario(args.scenario)
        data = gf.scenario_rollouts(scenario, args.episodes, args.seed, progress=True)
        hidden = args.hidden_size or scenario.model.hidden_size
        models = gf.fresh_models(args.cells, data, hidden, scenario.model.num_layers, args.seed)
        labels = list(args.cells)
        title = f"Gradient flow, fresh models (hidden {hidden}), {scenario.name}"
    results = gf.measure(models, labels, data, args.length, args.batch, args.seed, progress=True)
    print("||dL/dh_(T-lag)|| relative to lag 0 (mean over sequences):")
    print(gf.table(results))
    print(f"figure: {gf.plot(results, args.out, title)}")
    return 0
