"""Gymnasium environments, sim-to-real wrappers and scenario env construction."""

from rnn_control.envs.config import EnvConfig
from rnn_control.envs.factory import make_env, make_vec_env
from rnn_control.envs.registry import WRAPPERS, ensure_registered, register_wrapper

__all__ = ["WRAPPERS", "EnvConfig", "ensure_registered", "make_env", "make_vec_env", "register_wrapper"]
