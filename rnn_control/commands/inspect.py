"""``rnn-control inspect model.onnx``: metadata and IO of a bundle, as readable tables."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnn_control.contract.metadata import BundleMetadata


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, help="ONNX bundle")
    parser.add_argument(
        "--sidecar", type=Path, help="YAML IO sidecar for bundles without rnn_control metadata"
    )
    parser.add_argument("--json", action="store_true", help="print the metadata as JSON instead")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join("  " + s.rstrip() for s in out)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def _range(low: float, high: float) -> str:
    return f"[{low:g}, {high:g}]"


def _joint_contract(meta: BundleMetadata) -> str:
    """The deployment contract of the joint targets: one row per joint, and the command order."""
    from rnn_control.contract.deployment import action_joints, declared_command_field

    rows = []
    for i, f in enumerate(meta.action):
        if f.joint is None:
            continue
        position = _range(f.low, f.high) if f.mode == "position" else "-"
        rows.append([
            str(i), f.joint, f.mode or "-", _num(f.default_position), _num(f.scale), _num(f.offset),
            _num(f.kp), _num(f.kd), _num(f.effort_limit), position, _range(f.low, f.high), _num(f.safe),
            _num(f.max_rate), f.unit,
        ])  # fmt: skip
    headers = ["#", "joint", "mode", "default", "scale", "offset", "kp", "kd", "effort_limit",
               "position_limits", "command_limits", "safe", "slew", "unit"]  # fmt: skip
    try:
        field = declared_command_field(meta.action) or "position (no mode declared)"
    except ValueError:
        field = "mixed modes: float64_multi_array only"
    period = meta.control_period
    lines = [
        "\nJoints (deployment contract: command = offset + scale * output, clipped to the command limits;",
        "  position mode: offset = default position, the robot's PD loop tracks the target with kp/kd)",
        _table(headers, rows),
        f"  command order (command_joints default): {', '.join(action_joints(meta.action))}",
        f"  JointState/JointTrajectory field: {field}; control period {period:g} s ({1 / period:g} Hz)",
    ]
    return "\n".join(lines)


def _monitor(m: dict) -> str:
    """The dynamics monitor's calibrated alarm (metadata ``monitor``)."""
    threshold, factor = m.get("threshold"), m.get("error_factor", 2.0)
    error_at = None if threshold is None else threshold * factor
    lines = [
        "\nMonitor alarm (calibrated on nominal held-out data; the dynamics monitor node uses it)",
        f"  statistic: {m.get('statistic', '?')}, window {m.get('window')} predictions after a warm-up of "
        f"{m.get('warmup', 0)}",
        f"  WARN above {_num(threshold)}, ERROR above {_num(error_at)} (factor {_num(factor)}), "
        f"std floor {_num(m.get('std_floor'))}",
        f"  target {_num(m.get('false_alarms_per_hour'))} false alarms/h; threshold {m.get('method', '?')} "
        f"from {m.get('calibration_hours', 0.0) * 60:.1f} min of nominal data "
        f"({_num(m.get('calibration_alarms_per_hour'))} alarms/h measured there)",
    ]
    if "nominal_error_mean" in m:
        mean, p99 = _num(m["nominal_error_mean"]), _num(m.get("nominal_error_p99"))
        lines.append(f"  nominal one-step error: mean {mean}, p99 {p99}")
    return "\n".join(lines)


def _planning(meta: BundleMetadata) -> str:
    """A planning bundle's batch, horizon, members and the commands its plans become."""
    p = meta.planning
    lines = [
        "\nPlanning (an MPC node's model: one call filters the state and rolls candidates out)",
        f"  {p.batch} candidates x {p.horizon} steps ({p.horizon * meta.control_period:g} s), "
        f"{p.members} ensemble member(s), graph {p.graph}",
        "  commands (command = offset + scale * planned action, clipped)",
        _table(
            ["#", "name", "target", "low", "high", "safe", "scale", "offset", "unit"],
            [
                [str(i), f.name, f.target, *map(_num, (f.low, f.high, f.safe, f.scale, f.offset)), f.unit]
                for i, f in enumerate(p.commands)
            ],
        ),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from rnn_control.runtime.session import metadata_for_session, open_session

    session, _ = open_session(args.bundle, providers="cpu")
    meta = metadata_for_session(session, args.bundle, args.sidecar)
    if args.json:
        print(json.dumps(meta.to_dict(), indent=2))
        return 0
    size = args.bundle.stat().st_size / 1024
    print(
        f"{args.bundle}  ({size:.1f} KiB, {meta.precision}, schema {meta.schema_version}, "
        f"producer {meta.producer}, rnn_control {meta.version or '?'})"
    )
    print(
        f"  kind {meta.kind}, cell {meta.cell}, layers {meta.num_layers}, hidden {meta.hidden_size}, "
        f"time-aware {meta.time_aware}, control period {meta.control_period:g} s "
        f"({1 / meta.control_period:.1f} Hz)"
    )
    if meta.scenario:
        env = meta.scenario.get("env", {})
        print(f"  trained on scenario '{meta.scenario.get('name', '?')}' (env {env.get('id', '?')})")
    print("\nObservation (model input, in order)")
    print(
        _table(
            ["#", "name", "source", "unit"],
            [[str(i), f.name, f.source, f.unit] for i, f in enumerate(meta.observation)],
        )
    )
    print(
        "\nAction (model output -> command = offset + scale * output, clipped)"
        if meta.kind == "policy"
        else "\nPrediction (model output)"
    )
    print(
        _table(
            ["#", "name", "target", "low", "high", "safe", "scale", "offset", "max_rate", "unit"],
            [
                [
                    str(i),
                    f.name,
                    f.target,
                    _num(f.low),
                    _num(f.high),
                    _num(f.safe),
                    _num(f.scale),
                    _num(f.offset),
                    _num(f.max_rate),
                    f.unit,
                ]
                for i, f in enumerate(meta.action)
            ],
        )
    )
    if meta.kind == "policy" and any(f.joint is not None for f in meta.action):
        print(_joint_contract(meta))
    if meta.monitor:
        print(_monitor(meta.monitor))
    if meta.planning is not None:
        print(_planning(meta))
    print("\nTensors")
    rows = [["in", i.name, str(i.shape), i.type] for i in session.get_inputs()]
    rows += [["out", o.name, str(o.shape), o.type] for o in session.get_outputs()]
    print(_table(["", "name", "shape", "type"], rows))
    if meta.parity:
        print("\nParity (measured at export)")
        p = meta.parity.get("torch_vs_onnxruntime", {})
        if p:
            print(
                f"  onnxruntime vs PyTorch: {p.get('steps')} closed-loop steps in {p.get('env')}, "
                f"{p.get('episodes')} episodes: max abs diff output {p.get('max_abs_diff_output'):.2e}, "
                f"state {p.get('max_abs_diff_state'):.2e} (tolerance {meta.parity.get('tolerance')})"
            )
        v = meta.parity.get("vs_fp32")
        if v:
            print(
                f"  {meta.precision} vs fp32: max abs diff output {v['max_abs_diff_output']:.2e}, "
                f"state {v['max_abs_diff_state']:.2e} (tolerance {v.get('tolerance')})"
            )
        if "exporter" in meta.parity:
            print(
                f"  exporter: {meta.parity['exporter']}, torch {meta.parity.get('torch')}, "
                f"onnxruntime {meta.parity.get('onnxruntime')}, simplified {meta.parity.get('simplified')}"
            )
    return 0
