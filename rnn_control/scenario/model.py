"""Configuration of a recurrent core (shared by dynamics models and policies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rnn_control.errors import ConfigError

CellName = Literal["rnn", "lstm", "gru", "tgru"]
CELLS: tuple[str, ...] = ("rnn", "lstm", "gru", "tgru")
"""Selectable cells: Elman ``rnn`` (tanh), ``lstm``, ``gru`` and the time-aware ``tgru``
(a GRU whose state decays with the measured time since the previous step, and which also sees
that time as an input; use it when the control period jitters)."""


@dataclass
class ModelConfig:
    """Shape of the recurrent core and the heads around it."""

    cell: CellName = "gru"
    hidden_size: int = 64
    num_layers: int = 1
    # Hidden sizes of the MLP heads on top of the core (empty: a single linear layer).
    head_hidden: list[int] | None = None
    # Nominal control period in seconds; time-aware cells see dt / nominal_dt.
    nominal_dt: float = 0.05

    def validate(self) -> None:
        if self.hidden_size < 1:
            raise ConfigError(f"hidden_size: must be >= 1, got {self.hidden_size}")
        if self.num_layers < 1:
            raise ConfigError(f"num_layers: must be >= 1, got {self.num_layers}")
        if self.nominal_dt <= 0:
            raise ConfigError(f"nominal_dt: must be > 0 seconds, got {self.nominal_dt}")

    @property
    def time_aware(self) -> bool:
        return self.cell == "tgru"
