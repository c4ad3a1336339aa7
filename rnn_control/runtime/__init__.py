"""Torch-free runtime: step an ONNX bundle with onnxruntime, map IO, filter for safety.

Imports only numpy, onnxruntime, pyyaml and the standard library (an edge device needs nothing
else). Entry points: :class:`Controller` (what ROS nodes use: stepper + IO spec + safety),
:class:`Stepper` (the raw stateful stepper), :func:`read_bundle_metadata`, :class:`IOSpec`,
:class:`SafetyFilter`, :class:`Supervisor` (the e-stop / watchdog / fade-in / dt state machine
every control node shares), :class:`PlanningModel` and :class:`MpcController` (model-predictive
control with a planning bundle; planners in :mod:`rnn_control.runtime.planners`). The bundle
contract itself (metadata, field grammar) is
``rnn_control.contract``.
"""

from rnn_control.runtime.controller import Controller
from rnn_control.runtime.io_spec import IOSpec
from rnn_control.runtime.mpc import MpcController
from rnn_control.runtime.planning import PlanningModel
from rnn_control.runtime.safety import SafetyFilter
from rnn_control.runtime.session import read_bundle_metadata, select_providers, tensorrt_options
from rnn_control.runtime.stepper import ObservationError, Stepper
from rnn_control.runtime.supervisor import Supervisor

__all__ = [
    "Controller",
    "IOSpec",
    "MpcController",
    "ObservationError",
    "PlanningModel",
    "SafetyFilter",
    "Stepper",
    "Supervisor",
    "read_bundle_metadata",
    "select_providers",
    "tensorrt_options",
]
