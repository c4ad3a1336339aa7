"""Torch-free runtime: step an ONNX bundle with onnxruntime, map IO, filter for safety.

Imports only numpy, onnxruntime, pyyaml and the standard library (an edge device needs nothing
else). Entry points: :class:`Controller` (what ROS nodes use), :class:`Policy` (the raw stepper),
:func:`load_metadata`, :class:`IOSpec`, :class:`SafetyFilter`.
"""

from rnn_control.runtime.controller import Controller
from rnn_control.runtime.io_spec import (
    IOLayout,
    IOSpec,
    Source,
    Target,
    default_action_fields,
    default_observation_fields,
    parse_source,
    parse_target,
)
from rnn_control.runtime.metadata import (
    METADATA_KEY,
    SCHEMA_VERSION,
    ActionField,
    BundleMetadata,
    ObservationField,
    load_metadata,
    metadata_from_dict,
    metadata_from_json,
)
from rnn_control.runtime.policy import ObservationError, Policy, Stepper
from rnn_control.runtime.safety import SafetyFilter
from rnn_control.runtime.session import select_providers

__all__ = [
    "METADATA_KEY",
    "SCHEMA_VERSION",
    "ActionField",
    "BundleMetadata",
    "Controller",
    "IOLayout",
    "IOSpec",
    "ObservationError",
    "ObservationField",
    "Policy",
    "SafetyFilter",
    "Source",
    "Stepper",
    "Target",
    "default_action_fields",
    "default_observation_fields",
    "load_metadata",
    "metadata_from_dict",
    "metadata_from_json",
    "parse_source",
    "parse_target",
    "select_providers",
]
