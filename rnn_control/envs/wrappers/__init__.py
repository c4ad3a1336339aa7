"""Scenario wrappers. Importing this package registers every wrapper by its YAML name."""

from rnn_control.envs.wrappers.action_repeat import ActionRepeat
from rnn_control.envs.wrappers.domain_randomization import DomainRandomization
from rnn_control.envs.wrappers.dt_jitter import DtJitter
from rnn_control.envs.wrappers.latency import Latency
from rnn_control.envs.wrappers.mask_velocity import MaskVelocity
from rnn_control.envs.wrappers.obs_noise import ObsNoise

__all__ = ["ActionRepeat", "DomainRandomization", "DtJitter", "Latency", "MaskVelocity", "ObsNoise"]
