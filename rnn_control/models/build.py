"""Rebuild a model from a checkpoint: ``model_class`` + ``model_kwargs`` + ``model_state``."""

from __future__ import annotations

from typing import Any

from torch import nn

# The shipped model classes register themselves in MODEL_CLASSES when their modules load.
import rnn_control.models.dynamics
import rnn_control.models.ensemble
import rnn_control.models.policy
import rnn_control.models.window_mlp  # noqa: F401
from rnn_control.errors import CheckpointError
from rnn_control.models.registry import MODEL_CLASSES


def build_model(ckpt: dict[str, Any], load_state: bool = True) -> nn.Module:
    """Instantiate the checkpoint's model (weights loaded), in eval mode."""
    name = ckpt.get("model_class")
    if name not in MODEL_CLASSES:
        known = ", ".join(sorted(MODEL_CLASSES))
        raise CheckpointError(f"checkpoint model_class {name!r} unknown; known: {known}")
    model = MODEL_CLASSES[name](**ckpt.get("model_kwargs", {}))
    if load_state:
        try:
            model.load_state_dict(ckpt["model_state"])
        except (KeyError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint weights do not fit {name}: {exc}") from exc
    return model.eval()

