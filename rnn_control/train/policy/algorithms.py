"""The one map from ``policy.algorithm`` to its trainer; the CLI, the demo and the benches call
:func:`train_policy` rather than choosing a trainer themselves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rnn_control.scenario import Scenario
from rnn_control.train.common.run import TrainResult
from rnn_control.train.policy.bc import train_bc
from rnn_control.train.policy.ppo import train_ppo

Trainer = Callable[..., TrainResult]  # (scenario, run_dir, resume=, progress=, tensorboard=)

TRAINERS: dict[str, Trainer] = {"ppo": train_ppo, "bc": train_bc, "dagger": train_bc}


def train_policy(
    scenario: Scenario,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    tensorboard: bool = True,
) -> TrainResult:
    """Train ``scenario``'s policy in ``run_dir`` with the trainer ``policy.algorithm`` names:
    recurrent PPO (``ppo``), behaviour cloning (``bc``) or DAgger (``dagger``)."""
    trainer = TRAINERS[scenario.policy.algorithm]  # the scenario schema allows only these names
    return trainer(scenario, run_dir, resume=resume, progress=progress, tensorboard=tensorboard)
