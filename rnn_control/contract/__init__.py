"""The bundle contract: what learning and deployment agree on, and nothing else.

A leaf package (standard library and yaml only): the field grammar of observation sources and
action targets (:mod:`.fields`), the bundle metadata stored inside every ONNX file
(:mod:`.metadata`), the tensor names and shapes of the graph (:mod:`.tensors`), the scenario's
``io:`` overrides (:mod:`.io_layout`), the layout a bundle gets from its spaces and those
overrides (:mod:`.layout`, used by the exporter and the sim bridge alike) and YAML sidecars for
bundles exported by other tools (:mod:`.sidecar`).
"""

from rnn_control.contract.fields import FieldPath, parse_source, parse_target
from rnn_control.contract.io_layout import ActionOverride, IOLayout, ObservationOverride
from rnn_control.contract.layout import (
    action_limits,
    bundle_layout,
    default_action_fields,
    default_observation_fields,
    dynamics_layout,
)
from rnn_control.contract.metadata import (
    METADATA_KEY,
    SCHEMA_VERSION,
    STATELESS_CELL,
    ActionField,
    BundleMetadata,
    ObservationField,
    metadata_from_dict,
    metadata_from_json,
)
from rnn_control.contract.sidecar import find_sidecar, load_sidecar

__all__ = [
    "METADATA_KEY",
    "SCHEMA_VERSION",
    "STATELESS_CELL",
    "ActionField",
    "ActionOverride",
    "BundleMetadata",
    "FieldPath",
    "IOLayout",
    "ObservationField",
    "ObservationOverride",
    "action_limits",
    "bundle_layout",
    "default_action_fields",
    "default_observation_fields",
    "dynamics_layout",
    "find_sidecar",
    "load_sidecar",
    "metadata_from_dict",
    "metadata_from_json",
    "parse_source",
    "parse_target",
]
