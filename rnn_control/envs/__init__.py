"""Gymnasium environments, sim-to-real wrappers and scenario env construction."""

from rnn_control.envs.factory import check_env_config, make_env, make_vec_env
from rnn_control.envs.gym_ids import register_scenario_envs
from rnn_control.envs.spaces import describe_env, describe_spaces
from rnn_control.envs.timing import control_period
from rnn_control.envs.wrappers import WRAPPERS, apply_wrapper, register_wrapper

__all__ = [
    "WRAPPERS",
    "apply_wrapper",
    "check_env_config",
    "control_period",
    "describe_env",
    "describe_spaces",
    "make_env",
    "make_vec_env",
    "register_scenario_envs",
    "register_wrapper",
]
