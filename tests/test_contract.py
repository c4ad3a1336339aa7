"""The bundle contract: the per-joint deployment contract, io overrides and declared layouts."""

from __future__ import annotations

import json

import pytest

from rnn_control.config import from_dict
from rnn_control.contract import (
    SCHEMA_VERSION,
    ActionField,
    IOLayout,
    bundle_layout,
    metadata_from_dict,
)
from rnn_control.errors import BundleError, ConfigError

BOX = {"type": "box", "low": [-1.0, -1.0], "high": [1.0, 1.0]}


def _meta(action: list[dict]) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "policy",
        "cell": "gru",
        "num_layers": 1,
        "hidden_size": 8,
        "observation": [{"name": "q", "source": "joint_state/position/hip"}],
        "action": action,
        "control_period": 0.02,
    }


def test_position_mode_carries_gains_default_pose_and_round_trips():
    hip = {
        "name": "hip", "target": "joint/hip", "low": -0.5, "high": 1.2, "safe": 0.3, "scale": 0.25,
        "offset": 0.3, "mode": "position", "default_position": 0.3, "kp": 20.0, "kd": 0.5,
        "effort_limit": 30.0, "unit": "rad",
    }  # fmt: skip
    meta = metadata_from_dict(_meta([hip]))
    field = meta.action[0]
    got = (field.mode, field.kp, field.kd, field.default_position, field.joint)
    assert got == ("position", 20.0, 0.5, 0.3, "hip")
    again = metadata_from_dict(json.loads(meta.to_json()))
    assert again == meta


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kp": -1.0}, "kp: gains must be finite and >= 0, got -1.0 for 'joint/hip'"),
        ({"kd": float("nan")}, "kd: gains must be finite and >= 0"),
        ({"kp": None}, "kp/kd: position mode needs both gains for 'joint/hip'"),
        ({"default_position": None}, "default_position: position mode needs a finite one"),
        ({"offset": 0.0}, "offset: in position mode it is the default position (0.3)"),
        ({"effort_limit": 0.0}, "effort_limit: must be > 0"),
        ({"mode": "torque"}, "'torque' is not allowed; choose one of: 'effort', 'position', 'velocity'"),
        ({"target": "vector/0"}, "mode: only joint/<name> targets have a control mode"),
        ({"mode": None}, "only a joint target with a control mode carries these"),
    ],
)
def test_a_bad_joint_contract_names_the_key_and_the_joint(change, message):
    hip = {
        "name": "hip", "target": "joint/hip", "low": -0.5, "high": 1.2, "safe": 0.3, "offset": 0.3,
        "mode": "position", "default_position": 0.3, "kp": 20.0, "kd": 0.5,
    }  # fmt: skip
    with pytest.raises(BundleError) as err:
        metadata_from_dict(_meta([{**hip, **change}]))
    assert message in str(err.value)


def test_io_override_to_position_mode_sets_offset_and_safe_to_the_default_pose():
    hip = {"target": "joint/hip", "mode": "position", "default_position": 0.4, "kp": 10, "kd": 1}
    knee = {"target": "joint/knee", "mode": "effort", "effort_limit": 1.0}
    io = from_dict(IOLayout, {"action": [{**hip, "scale": 0.5, "low": -1.0, "high": 1.0}, knee]}, where="io")
    _, action = bundle_layout(io, 1, BOX)
    hip, knee = action
    assert (hip.offset, hip.safe, hip.scale, hip.mode) == (0.4, 0.4, 0.5, "position")
    assert (knee.offset, knee.safe, knee.mode, knee.effort_limit) == (0.0, 0.0, "effort", 1.0)
    with pytest.raises(ConfigError, match=r"io.action\[0\].kp/kd: position mode needs both gains"):
        bundle_layout(from_dict(IOLayout, {"action": [{"target": "joint/a", "mode": "position",
                                                       "default_position": 0.0}, {}]}), 1, BOX)  # fmt: skip


def test_a_declared_layout_replaces_the_defaults_and_must_fit_the_spaces():
    fields = {
        "observation": [{"name": "q_hip", "source": "joint_state/position/hip", "unit": "rad"}],
        "action": [
            {"name": "hip", "target": "joint/hip", "low": -2, "high": 2, "mode": "effort", "effort_limit": 2},
            {"name": "knee", "target": "joint/knee", "low": -2.0, "high": 2.0, "mode": "effort"},
        ],
    }
    observation, action = bundle_layout(IOLayout(), 1, BOX, fields=fields)
    assert [f.source for f in observation] == ["joint_state/position/hip"]
    assert [a.target for a in action] == ["joint/hip", "joint/knee"]
    with pytest.raises(ConfigError, match="declares 1 observation and 2 action fields but its spaces have 3"):
        bundle_layout(IOLayout(), 3, BOX, fields=fields)


def test_old_style_fields_stay_valid_and_a_newer_schema_is_refused():
    plain = ActionField("u", "vector/0", -1.0, 1.0)
    plain.validate()
    assert plain.mode is None and plain.joint is None
    with pytest.raises(BundleError, match="newer than this runtime understands"):
        metadata_from_dict({**_meta([{"name": "u", "target": "vector/0", "low": -1, "high": 1}]),
                            "schema_version": SCHEMA_VERSION + 1})  # fmt: skip
