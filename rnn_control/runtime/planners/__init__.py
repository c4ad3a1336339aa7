"""Sampling-based planners over batched imagined rollouts (numpy + onnxruntime only).

:class:`MPPI` and :class:`CEM` (iCEM) share :class:`~rnn_control.runtime.planners.base.Planner`:
coloured-noise sampling (:mod:`.noise`), command bounds, a shifted warm start, elites kept across
ticks, a deadline, determinism per seed. Costs come from the scenario's ``mpc.cost`` section
(:mod:`.costs`). :func:`make_planner` picks one from an :class:`~rnn_control.scenario.mpc.MpcConfig`.
"""

from __future__ import annotations

import numpy as np

from rnn_control.runtime.planners.base import (
    LATE,
    NO_VALID,
    OK,
    STATUSES,
    TRUNCATED,
    Planner,
    PlanResult,
    RolloutModel,
)
from rnn_control.runtime.planners.cem import CEM
from rnn_control.runtime.planners.costs import Cost, CostContext, wrap
from rnn_control.runtime.planners.mppi import MPPI
from rnn_control.runtime.planners.noise import colored_noise
from rnn_control.scenario.mpc import MpcConfig

PLANNERS: dict[str, type[Planner]] = {"mppi": MPPI, "cem": CEM}


def make_planner(
    model: RolloutModel, cost: Cost, config: MpcConfig, low: np.ndarray, high: np.ndarray
) -> Planner:
    """The planner ``config.planner`` names, over ``model`` with ``cost`` and the given bounds."""
    return PLANNERS[config.planner](model, cost, config, low, high)


__all__ = [
    "CEM", "LATE", "MPPI", "NO_VALID", "OK", "PLANNERS", "STATUSES", "TRUNCATED", "Cost", "CostContext",
    "MpcConfig", "PlanResult", "Planner", "RolloutModel", "colored_noise", "make_planner", "wrap",
]  # fmt: skip
