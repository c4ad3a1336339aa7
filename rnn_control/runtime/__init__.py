"""Torch-free runtime: step an ONNX bundle with onnxruntime, map IO, filter for safety.

Imports only numpy, onnxruntime, pyyaml and the standard library (an edge device needs nothing
else). Entry points: :class:`Controller` (what ROS nodes use: stepper + IO spec + safety),
:class:`Stepper` (the raw stateful stepper), :func:`read_bundle_metadata`, :class:`IOSpec`,
:class:`SafetyFilter`. The bundle contract itself (metadata, field grammar) is
``rnn_control.contract``.
"""

from rnn_control.runtime.controller import Controller
from rnn_control.runtime.io_spec import IOSpec
from rnn_control.runtime.safety import SafetyFilter
from rnn_control.runtime.session import read_bundle_metadata, select_providers, tensorrt_options
from rnn_control.runtime.stepper import ObservationError, Stepper

__all__ = [
    "Controller",
    "IOSpec",
    "ObservationError",
    "SafetyFilter",
    "Stepper",
    "read_bundle_metadata",
    "select_providers",
    "tensorrt_options",
]
