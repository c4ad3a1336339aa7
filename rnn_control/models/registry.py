"""Rebuild a model from a checkpoint: ``model_class`` + ``model_kwargs`` + ``model_state``.

Model classes register themselves with :func:`register_model`; trainers store the class name
and constructor kwargs in every checkpoint, so exporters and evaluators never guess shapes.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from rnn_control.errors import CheckpointError

MODEL_CLASSES: dict[str, type[nn.Module]] = {}


def register_model(cls: type[nn.Module]) -> type[nn.Module]:
    """Class decorator: make ``cls`` buildable from checkpoints by its name."""
    MODEL_CLASSES[cls.__name__] = cls
    return cls


def build_model(ckpt: dict[str, Any], load_state: bool = True) -> nn.Module:
    """Instantiate the checkpoint's model (weights loaded), in eval mode."""
    import rnn_control.models  # noqa: F401  (registers the model classes)

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

