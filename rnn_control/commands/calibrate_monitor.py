"""``rnn-control calibrate-monitor``: set a dynamics bundle's alarm threshold on the robot's own
nominal logs.

    rnn-control calibrate-monitor dyn.onnx --bag logs/nominal_1 logs/nominal_2 -o dyn_robot.onnx

``train-dynamics`` calibrates the monitor on its held-out episodes; on the robot the nominal
error is what the robot's own sensors, latencies and wear make it. This command steps the
*exported* bundle (onnxruntime, any precision: what the monitor node will run) over nominal
bags, computes the monitor's statistic exactly as the node does, and stores the threshold for
the target false-alarm rate in the bundle's metadata (``inspect`` shows it). The bags are read by
the ``bag:`` section of ``--scenario``, or of the scenario stored in the bundle (a bundle trained
from bags); every episode in them counts as nominal (held-out or not: the bundle never saw them).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = """examples:
  rnn-control calibrate-monitor dyn.onnx --bag logs/nominal -o dyn_robot.onnx
  rnn-control calibrate-monitor dyn.onnx --bag a.mcap b.mcap --scenario robot_bags.yaml --in-place
  rnn-control calibrate-monitor dyn.onnx --bag logs/nominal --false-alarms-per-hour 0.1 -o out.onnx
The threshold is 'empirical' when the bags are long enough to show the target rate, else
'extrapolated' along the tail of the alarm counts (say 1/h needs hours of logs to be empirical)."""
    parser.add_argument("bundle", help="a dynamics bundle (.onnx)")
    parser.add_argument(
        "--bag", nargs="+", required=True, help="nominal rosbag2 recordings (folders, .mcap, .db3)"
    )
    parser.add_argument(
        "--scenario", help="scenario whose bag: section maps the topics (default: the bundle's)"
    )
    parser.add_argument(
        "--false-alarms-per-hour", type=float, help="target rate (default: the bundle's, else 1)"
    )
    parser.add_argument("--window", type=int, help="predictions averaged (default: the bundle's, else 10)")
    parser.add_argument(
        "--warmup", type=int, help="predictions after a start that do not count (default: window)"
    )
    parser.add_argument("--std-floor", type=float, help="smallest std (default: the bundle's, else 1e-3)")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", help="write the calibrated bundle here")
    out.add_argument("--in-place", action="store_true", help="rewrite the bundle itself (atomically)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import onnx

    from rnn_control.bags import load_bags
    from rnn_control.errors import ConfigError
    from rnn_control.export.onnx_graph import save_model, set_metadata
    from rnn_control.runtime import Stepper
    from rnn_control.scenario import load_scenario, scenario_from_dict
    from rnn_control.train.dynamics.calibrate import bundle_step_errors, calibration

    path = Path(args.bundle)
    stepper = Stepper.load(path, providers="cpu")
    meta = stepper.metadata
    if meta.kind != "dynamics" or meta.planning is not None:
        raise ConfigError(f"{path.name}: a {meta.kind} bundle; calibrate-monitor needs a dynamics bundle")
    scenario = load_scenario(args.scenario) if args.scenario else scenario_from_dict(meta.scenario or {})
    if not scenario.bag.enabled:
        raise ConfigError(
            f"scenario '{scenario.name}' has no bag: section to read the bags with; give --scenario with one"
        )
    data = load_bags([str(p) for p in args.bag], scenario.bag)
    print("\n".join(data.report.lines()))
    episodes = [(e.obs, e.act) for e in [*data.train, *data.heldout]]
    o, a = (episodes[0][0].shape[1], episodes[0][1].shape[1]) if episodes else (0, 0)
    if o + a != meta.obs_dim or o != meta.act_dim:
        raise ConfigError(
            f"the bag section gives {o} observation and {a} command fields; {path.name} reads "
            f"{meta.obs_dim} inputs and predicts {meta.act_dim} fields (expected {meta.act_dim} + commands)"
        )
    if abs(data.period - meta.control_period) > 1e-6 * max(1.0, meta.control_period):
        print(f"warning: the bags are aligned to {data.period:g} s, the bundle's control period is "
              f"{meta.control_period:g} s")  # fmt: skip
    old = dict(meta.monitor)
    window = args.window or int(old.get("window", 10))
    floor = args.std_floor if args.std_floor is not None else float(old.get("std_floor", 1e-3))
    rate = args.false_alarms_per_hour or float(old.get("false_alarms_per_hour", 1.0))
    errors = bundle_step_errors(stepper, episodes, floor)
    monitor = calibration(
        errors, data.period, window, rate, floor, float(old.get("error_factor", 2.0)), args.warmup
    )
    monitor["calibrated_on"] = {"bags": [str(p) for p in args.bag], "episodes": len(episodes)}
    meta.monitor = monitor
    proto = onnx.load(str(path))
    set_metadata(proto, meta)
    out = path if args.in_place else Path(args.output)
    save_model(proto, out)
    before = f"{old['threshold']:.4g} ({old.get('method', '?')})" if old else "none"
    print(
        f"monitor threshold {before} -> {monitor['threshold']:.4g} ({monitor['method']}) for "
        f"{rate:g} false alarms/h, from {len(episodes)} episodes = "
        f"{monitor['calibration_hours'] * 60:.1f} min "
        f"of nominal data (mean one-step error {monitor['nominal_error_mean']:.3g}, p99 "
        f"{monitor['nominal_error_p99']:.3g}; {monitor['calibration_alarms_per_hour']:.3g} alarms/h there)"
    )
    print(f"wrote {out}")
    return 0
