"""The model-based learning loop (PETS-style): collect with MPC on the current model, refit, repeat.

``run_mbrl(scenario, run_dir, make_controller)``:

1. ``mpc.loop.initial_episodes`` episodes of an exploration policy;
2. the dynamics model (``model:`` and ``dynamics:`` sections; an ensemble with
   ``dynamics.ensemble``) is trained on everything collected so far by the dynamics trainer, in the
   run folder, resuming its own checkpoint (``initial_updates``, then ``updates`` more per iteration);
3. ``make_controller(checkpoint, iteration)`` turns the checkpoint into an MPC controller (the
   command passes one that exports a planning bundle and loads it in the torch-free runtime, so
   the data is collected exactly as a robot would run it); ``mpc.loop.episodes`` episodes are
   collected with it, episode ``k`` seeded ``seed + 1000 + k``;
4. repeat from 2 for ``iterations``, or until an iteration's mean return reaches ``target_return``.

Every iteration appends a row to ``RUN_DIR/mbrl.csv`` (env steps so far, the iteration's returns);
``mbrl.json`` holds the summary (env steps when the target was first reached).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.envs import make_env
from rnn_control.envs.actions import command_to_env_action
from rnn_control.scenario import Scenario
from rnn_control.train.dynamics.rollouts import FIELDS, EpisodeDataset, collect_rollouts
from rnn_control.train.dynamics.trainer import DynamicsTrainer

Controller = Any  # rnn_control.runtime.mpc.MpcController (step, reset, spec)


@dataclass
class MbrlResult:
    """What the loop did."""

    run_dir: Path
    checkpoint: Path
    env_steps: int
    returns: list[list[float]] = field(default_factory=list)  # per iteration
    steps_at_target: int | None = None  # env steps when an iteration first reached the target
    seconds: float = 0.0


def concat(datasets: list[EpisodeDataset]) -> EpisodeDataset:
    """Episodes of several datasets, back to back."""
    return EpisodeDataset(**{f: np.concatenate([getattr(d, f) for d in datasets]) for f in FIELDS})


def mpc_episode(env: Any, controller: Controller, seed: int) -> tuple[EpisodeDataset, float]:
    """One episode with ``controller``: its transitions (env actions) and return."""
    spec = controller.spec
    controller.reset()
    obs, _ = env.reset(seed=seed)
    rows: dict[str, list] = {f: [] for f in FIELDS}
    total, done = 0.0, False
    while not done:
        command = controller.step(obs)
        action = command_to_env_action(command, env.action_space, spec.scale, spec.offset)
        next_obs, reward, terminated, truncated, info = env.step(action)
        final = info.get("final_obs", next_obs) if (terminated or truncated) else next_obs
        for name, value in (("obs", obs), ("act", action), ("next_obs", final)):
            rows[name].append(np.asarray(value, dtype=np.float32).reshape(-1))
        rows["episode_start"].append(not rows["terminated"])
        rows["terminated"].append(bool(terminated))
        rows["truncated"].append(bool(truncated))
        total += float(reward)
        obs, done = next_obs, terminated or truncated
    data = EpisodeDataset(**{f: np.array(v) for f, v in rows.items()})
    return data, total


def run_mbrl(
    scenario: Scenario,
    run_dir: str | Path,
    make_controller: Callable[[Path, int], Controller],
    log: Callable[[str], None] = print,
    progress: bool = False,
) -> MbrlResult:
    """Run the loop (see the module docstring); returns the summary."""
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    loop = scenario.mpc.loop
    data = collect_rollouts(
        scenario.env, loop.initial_episodes, loop.exploration, seed=scenario.seed, num_envs=1
    )
    steps = len(data)
    log(f"initial data: {loop.initial_episodes} {loop.exploration} episodes, {steps} env steps")
    empty = data.select([])
    env = make_env(scenario.env)
    result = MbrlResult(run_dir, run_dir / "checkpoint.pt", steps)
    rows = []
    updates = loop.initial_updates
    for it in range(loop.iterations):
        dyn = dataclasses.replace(scenario.dynamics, total_updates=updates, heldout_episodes=0)
        trainer = DynamicsTrainer(dataclasses.replace(scenario, dynamics=dyn), run_dir, data=(data, empty),
                                  progress=progress, tensorboard=False,
                                  refit_normalizers=loop.refit_normalizers)  # fmt: skip
        trained = trainer.train()
        result.checkpoint = trained.checkpoint
        controller = make_controller(trained.checkpoint, it)
        returns = []
        for k in range(loop.episodes):
            episode, ret = mpc_episode(env, controller, scenario.seed + 1000 + it * loop.episodes + k)
            data = concat([data, episode])
            steps += len(episode)
            returns.append(ret)
        result.returns.append(returns)
        mean = float(np.mean(returns))
        counters = getattr(controller, "counters", {})
        rows.append({"iteration": it, "env_steps": steps, "updates": updates, "mean_return": mean,
                     "returns": " ".join(f"{r:.2f}" for r in returns),
                     "deadline_misses": counters.get("deadline_misses", 0)})  # fmt: skip
        log(f"iteration {it}: {updates} updates, {steps} env steps, return {mean:.1f} ({len(returns)} ep.)")
        reached = loop.target_return is not None and mean >= loop.target_return
        if reached and result.steps_at_target is None:
            result.steps_at_target = steps
        updates += loop.updates
        if reached:
            break
    env.close()
    result.env_steps, result.seconds = steps, time.perf_counter() - t0
    with open(run_dir / "mbrl.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = {
        "env_steps": steps, "steps_at_target": result.steps_at_target, "target_return": loop.target_return,
        "returns": result.returns, "seconds": result.seconds, "checkpoint": str(result.checkpoint),
    }  # fmt: skip
    (run_dir / "mbrl.json").write_text(json.dumps(summary, indent=2))
    data.save(run_dir / "mbrl_data.npz")
    return result
