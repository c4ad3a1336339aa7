"""Bag episodes as the trainers' data: the scenario's ``bag:`` section read by
:func:`rnn_control.bags.load_bags`, turned into :class:`EpisodeDataset` pairs (dynamics) or
sequences (behaviour cloning), plus what the checkpoint needs without an env: the ``spaces``
(the bag's field layout), the control period and a recorded input sample for the export's
parity check.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.bags import BagData, Episode, load_bags
from rnn_control.errors import BagError
from rnn_control.scenario import Scenario
from rnn_control.train.dynamics.rollouts import EpisodeDataset

PARITY_STEPS = 1000


def read_scenario_bags(scenario: Scenario, paths: Sequence[str | Path] | None = None) -> BagData:
    """The scenario's bags (``paths``, else ``bag.paths``), aligned; the report is printed by callers."""
    if not scenario.bag.enabled:
        raise BagError(
            f"scenario '{scenario.name}' has no bag: section (topics and fields -> observations and "
            "commands); see rnn_control/scenario/bag.py"
        )
    return load_bags(list(paths or scenario.bag.paths), scenario.bag)


def to_dataset(episodes: Sequence[Episode]) -> EpisodeDataset:
    """Episodes -> flat transitions (each episode ends truncated: a bag never says terminated)."""
    o = episodes[0].obs.shape[1] if episodes else 0
    a = episodes[0].act.shape[1] if episodes else 0
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "act", "next_obs", "start", "trunc")}
    for e in episodes:
        n = e.steps
        parts["obs"].append(e.obs[:-1])
        parts["act"].append(e.act)
        parts["next_obs"].append(e.obs[1:])
        parts["start"].append(np.arange(n) == 0)
        parts["trunc"].append(np.arange(n) == n - 1)
    if not episodes:
        z = np.zeros((0, o), np.float32)
        return EpisodeDataset(z, np.zeros((0, a), np.float32), z, *(np.zeros(0, bool) for _ in range(3)))
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    return EpisodeDataset(
        obs=cat["obs"].astype(np.float32),
        act=cat["act"].astype(np.float32),
        next_obs=cat["next_obs"].astype(np.float32),
        episode_start=cat["start"],
        terminated=np.zeros(len(cat["obs"]), dtype=bool),
        truncated=cat["trunc"],
    )


def parity_data(episodes: Sequence[Episode], kind: str, steps: int = PARITY_STEPS) -> dict[str, Any]:
    """Recorded model inputs for the exporter's parity check (no env to run): up to ``steps``
    steps of ``episodes``, with the indices where an episode starts (state reset there).
    Dynamics models get ``[observation, command]``, policies the observation."""
    inputs, resets, n = [], [], 0
    for e in episodes:
        if n >= steps:
            break
        x = np.concatenate([e.obs[:-1], e.act], axis=1) if kind == "dynamics" else e.obs[:-1]
        x = x[: steps - n]
        resets.append(n)
        inputs.append(x.astype(np.float32))
        n += len(x)
    return {"inputs": np.concatenate(inputs) if inputs else np.zeros((0, 0), np.float32), "resets": resets}


def checkpoint_extras(data: BagData, kind: str) -> dict[str, Any]:
    """Checkpoint entries of a bag-trained run: where the data came from, the parity sample."""
    sample = data.heldout or data.train
    return {
        "source": {"kind": "bag", "bags": list(data.report.bags), "report": data.report.lines()},
        "parity_data": parity_data(sample, kind),
    }
