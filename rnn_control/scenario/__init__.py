"""Scenarios: one YAML file describes an environment, a model, how to train it and how the
trained model meets the robot.

A leaf package (standard library and yaml only): the schema of every section
(:mod:`.env`, :mod:`.model`, :mod:`.policy`, :mod:`.dynamics`, :mod:`.wrappers`, :mod:`.bag`; the ``io:``
section is the bundle contract's :class:`~rnn_control.contract.IOLayout`) and loading
(:mod:`.loading`). A new section is one module here and one field of :class:`Scenario`.
"""

from rnn_control.scenario.bag import BagConfig, BagField
from rnn_control.scenario.dynamics import DynamicsConfig
from rnn_control.scenario.env import EnvConfig
from rnn_control.scenario.loading import (
    Scenario,
    available_scenarios,
    deep_merge,
    load_scenario,
    resolve_scenario,
    scenario_dirs,
    scenario_from_dict,
)
from rnn_control.scenario.model import CELLS, ModelConfig
from rnn_control.scenario.policy import PolicyConfig

__all__ = [
    "CELLS",
    "BagConfig",
    "BagField",
    "DynamicsConfig",
    "EnvConfig",
    "ModelConfig",
    "PolicyConfig",
    "Scenario",
    "available_scenarios",
    "deep_merge",
    "load_scenario",
    "resolve_scenario",
    "scenario_dirs",
    "scenario_from_dict",
]
