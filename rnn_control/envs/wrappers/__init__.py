"""Scenario wrappers. Importing this package registers every wrapper by its YAML name."""

from rnn_control.envs.wrappers.mask_velocity import MaskVelocity

__all__ = ["MaskVelocity"]
