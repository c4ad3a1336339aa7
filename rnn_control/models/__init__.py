"""Torch models: recurrent cores, normalisation, dynamics models and policies."""

from rnn_control.models.config import CELLS, ModelConfig
from rnn_control.models.cores import RecurrentCore, State, reset_state
from rnn_control.models.normalizer import RunningNormalizer

__all__ = ["CELLS", "ModelConfig", "RecurrentCore", "RunningNormalizer", "State", "reset_state"]
