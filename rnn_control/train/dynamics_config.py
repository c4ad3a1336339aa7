"""``dynamics:`` section of a scenario: data collection and BPTT training of a dynamics model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DynamicsConfig:
    """Settings for ``rnn-control train-dynamics`` (owned by the dynamics trainer)."""

    total_updates: int = 2000
