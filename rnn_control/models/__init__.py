"""Torch models: recurrent cores, normalisation, dynamics models and policies."""

from rnn_control.models.build import build_model
from rnn_control.models.cores import RecurrentCore, State, reset_state
from rnn_control.models.dynamics import DynamicsModel, RecurrentDynamicsModel
from rnn_control.models.ensemble import EnsembleDynamicsModel
from rnn_control.models.normalizer import RunningNormalizer
from rnn_control.models.policy import MlpActorCritic, RecurrentActorCritic
from rnn_control.models.registry import register_model
from rnn_control.models.window_mlp import WindowMLPDynamicsModel
from rnn_control.scenario.model import CELLS, ModelConfig

__all__ = [
    "CELLS",
    "DynamicsModel",
    "EnsembleDynamicsModel",
    "MlpActorCritic",
    "ModelConfig",
    "RecurrentActorCritic",
    "RecurrentCore",
    "RecurrentDynamicsModel",
    "RunningNormalizer",
    "State",
    "WindowMLPDynamicsModel",
    "build_model",
    "register_model",
    "reset_state",
]
