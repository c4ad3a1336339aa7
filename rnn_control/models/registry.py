"""The table of model classes a checkpoint may name (``model_class``).

Model classes register themselves with :func:`register_model`; trainers store the class name
and constructor kwargs in every checkpoint, so exporters and evaluators never guess shapes
(:func:`rnn_control.models.build.build_model` rebuilds them).
"""

from __future__ import annotations

from torch import nn

MODEL_CLASSES: dict[str, type[nn.Module]] = {}


def register_model(cls: type[nn.Module]) -> type[nn.Module]:
    """Class decorator: make ``cls`` buildable from checkpoints by its name."""
    MODEL_CLASSES[cls.__name__] = cls
    return cls
