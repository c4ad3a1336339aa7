"""``rnn-control train-dynamics``: collect rollouts and train a dynamics model with truncated BPTT.

    rnn-control train-dynamics --scenario sim/pendulum_novel.yaml --run-dir runs/pend-gru
    rnn-control train-dynamics --scenario pendulum_novel --cell lstm --updates 3000
    rnn-control train-dynamics --scenario my_robot_bags.yaml --bag logs/run1 logs/run2   # from rosbag2

Re-running the same command on a run folder that has a checkpoint resumes it.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = """examples:
  rnn-control train-dynamics --scenario sim/pendulum_novel.yaml --run-dir runs/pend-gru
  rnn-control train-dynamics --scenario pendulum_novel --cell lstm --updates 5000
  rnn-control train-dynamics --scenario pendulum_novel --model window_mlp   # feed-forward baseline
  rnn-control train-dynamics --scenario robot_bags.yaml --bag logs/run1 logs/run2   # from rosbag2 bags
Re-running a command on a run folder with a checkpoint resumes it (a killed run loses only the
updates since its last checkpoint)."""
    parser.add_argument(
        "--scenario", required=True, help="scenario YAML path or shipped name (pendulum_novel)"
    )
    parser.add_argument("--run-dir", help="run folder (default: runs/dynamics-<scenario>-<model>)")
    parser.add_argument(
        "--bag",
        nargs="+",
        metavar="PATH",
        help="train from these rosbag2 recordings (folders or .mcap/.db3 files) as the scenario's bag: "
        "section maps them, instead of simulator rollouts (overrides bag.paths)",
    )
    parser.add_argument("--cell", choices=["rnn", "lstm", "gru", "tgru"], help="override model.cell")
    parser.add_argument(
        "--model",
        choices=["recurrent", "window_mlp"],
        help="override dynamics.model_type (window_mlp: baseline)",
    )
    parser.add_argument("--updates", type=int, help="override dynamics.total_updates")
    parser.add_argument("--seed", type=int, help="override the scenario seed")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: dynamics.num_threads)")
    parser.add_argument(
        "--overwrite", action="store_true", help="start the run folder again instead of resuming"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def overrides_from(args: argparse.Namespace) -> dict:
    """Scenario overrides given on the command line."""
    over: dict = {"model": {}, "dynamics": {}}
    if args.cell:
        over["model"]["cell"] = args.cell
    if args.model:
        over["dynamics"]["model_type"] = args.model
    if args.updates is not None:
        over["dynamics"]["total_updates"] = args.updates
    if args.threads is not None:
        over["dynamics"]["num_threads"] = args.threads
    if args.seed is not None:
        over["seed"] = args.seed
    if getattr(args, "bag", None):
        over["bag"] = {"paths": [str(p) for p in args.bag]}
    return over


def bag_inputs(scenario, args: argparse.Namespace) -> dict:
    """The trainer's data from the scenario's bags (printing what reading them found), or ``{}``
    for simulator rollouts."""
    if not (args.bag or scenario.bag.paths):
        return {}
    from rnn_control.train.common.bag_data import checkpoint_extras, read_scenario_bags, to_dataset

    data = read_scenario_bags(scenario)
    print("\n".join(data.report.lines()))
    return {
        "data": (to_dataset(data.train), to_dataset(data.heldout)),
        "spaces": data.spaces(),
        "control_period": data.period,
        "extra": checkpoint_extras(data, "dynamics"),
    }


def run(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from rnn_control.scenario import load_scenario
    from rnn_control.train.common.distributed import quiet_unless_rank_zero
    from rnn_control.train.common.run import CHECKPOINT
    from rnn_control.train.dynamics.trainer import DynamicsTrainer

    reports = quiet_unless_rank_zero()  # under torchrun, rank 0 reports for the group

    scenario = load_scenario(args.scenario, overrides_from(args))
    kind = scenario.model.cell if scenario.dynamics.model_type == "recurrent" else "window_mlp"
    run_dir = Path(args.run_dir or f"runs/dynamics-{scenario.name}-{kind}")
    if args.overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    if (run_dir / CHECKPOINT).is_file():
        print(f"resuming {run_dir / CHECKPOINT}")
    trainer = DynamicsTrainer(scenario, run_dir, progress=not args.no_progress, **bag_inputs(scenario, args))
    if trainer.resumed_from is not None:
        total = scenario.dynamics.total_updates
        left = "" if trainer.resumed_from < total else " (nothing left to train: evaluating only)"
        print(f"resumed at update {trainer.resumed_from} of {total}{left}")
    d = trainer.train_data
    print(
        f"{scenario.name}: {trainer.model_class} ({kind}), {d.num_episodes} training episodes "
        f"({len(d)} steps), {trainer.heldout_data.num_episodes} held out; run folder {run_dir}"
    )
    try:
        result = trainer.train()
    except KeyboardInterrupt:
        every = scenario.dynamics.checkpoint_every
        saved = (trainer.update // every) * every
        if saved > (trainer.resumed_from or 0) or trainer.resumed_from:
            print(
                f"\ninterrupted at update {trainer.update}; the last checkpoint holds update {saved}. "
                "Run the same command again to resume from it."
            )
        else:
            print(
                f"\ninterrupted at update {trainer.update}, before the first checkpoint (update {every}); "
                "running the command again starts over, reusing the collected episodes."
            )
        return 130
    if not reports:
        return 0
    print(
        f"trained {result.steps} updates in {result.train_time_s:.1f} s, final loss {result.final_loss:.4f}"
    )
    if result.report is not None:
        print("open-loop prediction on held-out episodes (RMSE normalised per dimension):")
        print(result.report.table())
    print(f"checkpoint: {result.checkpoint}")
    print(f"tensorboard: tensorboard --logdir {run_dir / 'tb'}")
    return 0
