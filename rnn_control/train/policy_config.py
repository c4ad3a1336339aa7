"""``policy:`` section of a scenario: recurrent PPO / behaviour cloning settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PolicyConfig:
    """Settings for ``rnn-control train-policy`` (owned by the policy trainers)."""

    total_steps: int = 100_000
