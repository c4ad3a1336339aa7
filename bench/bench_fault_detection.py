"""Fault detection with the learned model: detection delay and false alarms per hour.

1. Train the ``pendulum_monitor`` dynamics model (GRU-64, Pendulum-v1 with its full observation,
   pink-noise torques); the trainer calibrates the monitor's alarm on the 64 held-out episodes for
   1 false alarm per hour; export the bundle (the calibration is in its metadata).
2. Over real DDS (sim bridge realtime at 20 Hz, dynamics monitor node, a controller answering
   each observation with pink-noise torque): ``pendulum_fault_gain`` (30 % actuator-gain loss) and
   ``pendulum_fault_payload`` (50 % heavier payload), fault at 20 s. Delay: first WARN/ERROR on
   /diagnostics after the first faulty reading arrived. False alarms: alarms before the fault,
   plus a nominal DDS run of ``--nominal-minutes``.
3. In process, the monitor's statistic computed exactly as the node computes it (one-step
   predictions with the state carried, RMS normalised error, windowed mean, the calibrated
   threshold): false alarms over ``--hours`` hours of nominal running, and the detection delay
   of both faults over ``--seeds`` runs.

    PYTHONPATH=. python bench/bench_fault_detection.py               # ~8 min on 2 cores
    PYTHONPATH=. python bench/bench_fault_detection.py --updates 600 --hours 1 --nominal-minutes 1
    PYTHONPATH=. python bench/bench_fault_detection.py --hours 0.1 --nominal-minutes 10 --answer-delay 0.05

``--answer-delay S``: the controller answers after a random 0 to S seconds; past the bridge's
50 ms tick the robot holds the previous command, which the monitor must not take for a fault.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
PERIOD = 0.05


def pink(steps: int, seed: int) -> np.ndarray:
    from rnn_control.train.dynamics.exploration import make_exploration

    pol = make_exploration(
        "pink", "Pendulum-v1", np.array([-2.0]), np.array([2.0]), 1, seed, 0.6, 1.0, 0.15, PERIOD
    )
    pol.reset(np.ones(1, dtype=bool))
    return np.array([pol.act(np.zeros((1, 3)))[0] for _ in range(steps)], dtype=np.float32)


def run_in_process(scenario, steps: int, seed: int):
    """One continuous run of ``steps`` steps with pink torques -> a one-episode dataset."""
    from rnn_control.envs import make_env
    from rnn_control.train.dynamics.rollouts import EpisodeDataset

    env = make_env(scenario.env, seed=seed)
    u = pink(steps, seed + 7)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for k in range(steps):
        obs, *_ = env.step(u[k])
        out.append(obs)
    o = np.asarray(out, dtype=np.float32)
    n = steps
    return EpisodeDataset(o[:-1], u, o[1:], np.arange(n) == 0, np.zeros(n, bool), np.arange(n) == n - 1)


def monitor_statistic(model, data, monitor) -> np.ndarray:
    from rnn_control.train.dynamics.calibrate import step_errors, windowed

    (errors,) = step_errors(model, data, monitor["std_floor"])
    return windowed(errors[monitor.get("warmup", 0) :], monitor["window"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--updates", type=int, default=2000)
    ap.add_argument("--hours", type=float, default=5.0, help="in-process nominal running for false alarms")
    ap.add_argument("--nominal-minutes", type=float, default=5.0, help="nominal running over DDS")
    ap.add_argument("--seeds", type=int, default=10, help="in-process fault runs per fault")
    ap.add_argument("--no-dds", action="store_true")
    ap.add_argument(
        "--answer-delay", type=float, default=0.0,
        help="the DDS controller answers each observation after a random 0..S seconds (a slow controller)",
    )  # fmt: skip
    args = ap.parse_args()

    from rnn_control.export.exporter import ExportOptions, export_checkpoint
    from rnn_control.models import build_model
    from rnn_control.scenario import load_scenario
    from rnn_control.train.common.checkpoint import load_checkpoint
    from rnn_control.train.dynamics.calibrate import alarm_counts
    from rnn_control.train.dynamics.trainer import DynamicsTrainer

    if "ROS_DOMAIN_ID" not in os.environ:
        from rnn_control.demo.ros_domain import pick_free_domain

        os.environ["ROS_DOMAIN_ID"] = str(pick_free_domain())
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scenario = load_scenario("pendulum_monitor", {"dynamics": {"total_updates": args.updates}})
        trainer = DynamicsTrainer(scenario, tmp / "dyn", progress=False, tensorboard=False)
        result = trainer.train()
        bundle = export_checkpoint(result.checkpoint, tmp / "dyn.onnx", ExportOptions(parity_steps=200))
        monitor = bundle.metadata.monitor
        model = build_model(load_checkpoint(result.checkpoint))
        results["monitor"] = monitor
        print("calibration:", json.dumps(monitor))
        print("open-loop nRMSE:", {h: round(v, 4) for h, v in result.report.rmse.items()})
        threshold = np.array([monitor["threshold"]])

        # --- in process: false alarms over hours of nominal running, delays over seeds
        nominal = load_scenario("pendulum_fault_gain", {"env": {"wrappers": []}})
        per_hour = int(3600 / PERIOD)
        alarms, hours = 0, 0.0
        for h in range(int(np.ceil(args.hours))):
            steps = int(per_hour * min(1.0, args.hours - h))
            stat = monitor_statistic(model, run_in_process(nominal, steps, 500 + h), monitor)
            alarms += int(alarm_counts([stat], threshold)[0])
            hours += steps * PERIOD / 3600
        results["in_process_false_alarms_per_hour"] = alarms / hours
        print(
            f"in process: {alarms} false alarms in {hours:.1f} h of nominal running ({alarms / hours:.2f}/h)"
        )
        for name in ("pendulum_fault_gain", "pendulum_fault_payload"):
            delays, early = [], 0
            for seed in range(args.seeds):
                stat = monitor_statistic(model, run_in_process(load_scenario(name), 800, 100 + seed), monitor)
                above = stat > threshold[0]
                skip = monitor.get("warmup", 0) + monitor["window"] - 1
                first = np.flatnonzero(above) + skip  # prediction index of the window's end
                early += int(alarm_counts([stat[: 400 - skip]], threshold)[0])
                after = first[first >= 400]
                # prediction k scores reading k+1; the first faulty reading is 401 (step 400)
                delays.append((after[0] - 400 + 1) * PERIOD if len(after) else float("inf"))
            results[f"in_process_{name}"] = {"delays_s": delays, "alarms_before_fault": early}
            print(
                f"in process {name}: delay median {np.median(delays):.2f} s, max {max(delays):.2f} s over "
                f"{args.seeds} runs; alarms before the fault: {early}"
            )

        # --- over DDS
        if not args.no_dds:
            from tests.fault_loop import run_fault_loop

            for name in ("pendulum_fault_gain", "pendulum_fault_payload"):
                run = run_fault_loop(bundle.path, name, 26.0, tmp, answer_delay=args.answer_delay)
                onset = run.obs_times[401]
                alarm = run.first_alarm_after(onset)
                delay = None if alarm is None else alarm - onset
                results[f"dds_{name}"] = {
                    "delay_s": delay,
                    "alarms_before_fault": run.alarms_before(onset),
                    "observations": len(run.obs_times),
                }
                print(
                    f"over DDS {name}: detection delay {delay if delay is None else round(delay, 3)} s, "
                    f"false alarms in the 20 s before: {run.alarms_before(onset)}"
                )
            spec = yaml.safe_load((ROOT / "sim" / "pendulum_fault_gain.yaml").read_text())
            spec["env"]["wrappers"] = []
            nominal_path = tmp / "nominal.yaml"
            nominal_path.write_text(yaml.safe_dump(spec))
            run = run_fault_loop(
                bundle.path, nominal_path, args.nominal_minutes * 60, tmp, answer_delay=args.answer_delay
            )
            n = run.alarms_before(float("inf"))
            span_h = (run.obs_times[-1] - run.obs_times[0]) / 3600
            results["dds_nominal"] = {"alarms": n, "hours": span_h}
            print(f"over DDS nominal: {n} alarms in {span_h * 60:.1f} min")
        print(json.dumps(results, default=float))


if __name__ == "__main__":
    main()
