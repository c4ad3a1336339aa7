"""IO spec: a bundle's named observation fields and its scaled, limited commands, as the arrays
the step path uses. The grammar of sources and targets is the contract's (``contract.fields``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rnn_control.contract.metadata import ActionField, BundleMetadata, ObservationField, parse_fields


class IOSpec:
    """Names, sources, targets, scaling and limits of a bundle, as arrays ready for the step path."""

    def __init__(self, observation: Sequence[ObservationField], action: Sequence[ActionField]) -> None:
        self.observation = list(observation)
        self.action = list(action)
        self.observation_names = [f.name for f in self.observation]
        self.action_names = [f.name for f in self.action]
        self.sources, self.targets = parse_fields(self.observation, self.action)
        self.low = np.array([f.low for f in self.action], dtype=np.float64)
        self.high = np.array([f.high for f in self.action], dtype=np.float64)
        self.safe = np.clip(np.array([f.safe for f in self.action], dtype=np.float64), self.low, self.high)
        self.scale = np.array([f.scale for f in self.action], dtype=np.float64)
        self.offset = np.array([f.offset for f in self.action], dtype=np.float64)
        rates = [np.inf if f.max_rate is None else f.max_rate for f in self.action]
        self.max_rate = np.array(rates, dtype=np.float64)

    @classmethod
    def from_metadata(cls, meta: BundleMetadata) -> IOSpec:
        return cls(meta.observation, meta.action)

    @property
    def obs_dim(self) -> int:
        return len(self.observation)

    @property
    def act_dim(self) -> int:
        return len(self.action)

    def build_observation(self, values: Mapping[str, float], out: np.ndarray | None = None) -> np.ndarray:
        """Observation vector (float32, model order) from a mapping field name -> value.

        A missing field raises ``KeyError`` naming it; extra keys are ignored.
        """
        missing = [n for n in self.observation_names if n not in values]
        if missing:
            raise KeyError(f"observation fields missing: {missing} (expected {self.observation_names})")
        if out is None:
            out = np.empty(self.obs_dim, dtype=np.float32)
        for i, name in enumerate(self.observation_names):
            out[i] = values[name]
        return out
