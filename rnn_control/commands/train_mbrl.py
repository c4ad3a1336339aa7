"""``rnn-control train-mbrl``: the model-based loop: collect with MPC on the current model, refit.

    rnn-control train-mbrl --scenario pendulum_novel --run-dir runs/pend-mbrl
    rnn-control train-mbrl --scenario pendulum_novel --iterations 15 --target-return -250

Each iteration trains the dynamics model (the scenario's model: and dynamics: sections) on all data
so far, exports it as a planning bundle (the scenario's mpc.samples x mpc.horizon, parity-checked),
and collects mpc.loop.episodes episodes with MPC in the torch-free runtime. The run folder keeps
the checkpoint, the latest planning bundle (plan.onnx), mbrl.csv, mbrl.json and the data.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario", required=True, help="scenario YAML path or shipped name (pendulum_novel)"
    )
    parser.add_argument("--run-dir", help="run folder (default: runs/mbrl-<scenario>)")
    parser.add_argument("--iterations", type=int, help="override mpc.loop.iterations")
    parser.add_argument("--target-return", type=float, help="stop once an iteration's mean return reaches it")
    parser.add_argument(
        "--episodes", type=int, help="override mpc.loop.episodes (MPC episodes per iteration)"
    )
    parser.add_argument(
        "--updates", type=int, help="override mpc.loop.updates (dynamics updates per iteration)"
    )
    parser.add_argument("--seed", type=int, help="override the scenario seed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="start the run folder again")


def run(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    import torch

    from rnn_control.export.planning import PlanningExportOptions, export_planning
    from rnn_control.runtime.mpc import MpcController
    from rnn_control.scenario import load_scenario
    from rnn_control.train.dynamics.mbrl import run_mbrl

    given = {"iterations": args.iterations, "target_return": args.target_return, "episodes": args.episodes,
             "updates": args.updates}  # fmt: skip
    loop = {k: v for k, v in given.items() if v is not None}
    over: dict = {"mpc": {"loop": loop}, "dynamics": {"num_threads": args.threads}}
    if args.seed is not None:
        over["seed"] = args.seed
    scenario = load_scenario(args.scenario, over)
    run_dir = Path(args.run_dir or f"runs/mbrl-{scenario.name}")
    if args.overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    torch.set_num_threads(args.threads)
    mpc = scenario.mpc
    options = PlanningExportOptions(batch=mpc.samples or 256, horizon=mpc.horizon or 30, parity_ticks=3)
    config = {**scenario.to_dict()["mpc"], "deadline": 0.0}  # collection is not real time: no deadline

    def make_controller(checkpoint: Path, iteration: int) -> MpcController:
        bundle = run_dir / "plan.onnx"
        export_planning(checkpoint, bundle, options)
        return MpcController.load(bundle, config)

    result = run_mbrl(scenario, run_dir, make_controller)
    target = mpc.loop.target_return
    reached = (f"; return >= {target:g} first after {result.steps_at_target} env steps"
               if result.steps_at_target is not None else "")  # fmt: skip
    print(f"done in {result.seconds:.0f} s: {result.env_steps} env steps{reached}")
    print(f"checkpoint: {result.checkpoint}; planning bundle: {run_dir / 'plan.onnx'}")
    print(f"log: {run_dir / 'mbrl.csv'}, summary: {run_dir / 'mbrl.json'}")
    return 0
