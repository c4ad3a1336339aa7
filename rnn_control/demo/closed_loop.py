"""Closed loop over ROS 2: sim bridge, policy node and dynamics monitor as three separate
processes talking over DDS topics (plus a recorder process that writes what it hears), on a
free ROS domain with discovery kept on localhost. Every process is stopped cleanly at the end,
on error and on Ctrl-C (SIGINT, then SIGTERM, then SIGKILL)."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.atomic import write_json_atomic
from rnn_control.demo.loop_io import POLICY_NODE, LoopIO, loop_io, prediction_columns
from rnn_control.demo.preflight import repo_root
from rnn_control.demo.processes import ProcessGroup
from rnn_control.demo.stages import DemoContext, StageResult
from rnn_control.errors import RnnControlError

OBSERVATION_TOPIC = "observation"
COMMAND_TOPIC = "command"
PREDICTION_TOPIC = "/dynamics_monitor/prediction"
# The first episode is a warm-up. The sim bridge holds its first episode until the policy node is
# connected, but the recorder may still be discovering the bridge's topics then, so the first
# episode can be recorded partly. It is reported but not compared (its seed is settings.seed - 1,
# so episode k of the comparison has seed settings.seed + k as in the in-process evaluation).
# Short episodes (arm3_reach: 2.5 s) get as many warm-ups as cover WARMUP_SECONDS (seeds
# settings.seed - n .. settings.seed - 1), measured from the in-process evaluation's lengths.
WARMUP_EPISODES = 1
WARMUP_SECONDS = 5.0
BAG = "recording"  # the recorder's rosbag2 folder (MCAP) beside recording.json
# Log lines that say a node is up (configured and listening).
READY_LINES = {
    "recorder": "recording to",
    "dynamics_monitor": "dynamics monitor:",
    "policy_node": "active",
    "sim_bridge": "sim bridge:",
}


def node_env(domain_id: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ROS_DOMAIN_ID=str(domain_id),
        ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
        PYTHONPATH=os.pathsep.join([str(repo_root()), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        PYTHONUNBUFFERED="1",
    )
    return env


def bundle_io(ctx: DemoContext) -> LoopIO:
    """The loop's topics and node parameters for the run's policy bundle (see :mod:`loop_io`)."""
    from rnn_control.runtime import read_bundle_metadata

    return loop_io(read_bundle_metadata(ctx.run.policy_bundle), OBSERVATION_TOPIC, COMMAND_TOPIC)


def warmup_episodes(ctx: DemoContext, period: float) -> int:
    """Warm-up episodes: one, or as many as cover :data:`WARMUP_SECONDS` of short episodes."""
    path = ctx.run.evaluate_dir / "evaluation.json"
    try:
        steps = max(json.loads(path.read_text()).get("policy_lengths") or [0])
    except (OSError, json.JSONDecodeError, TypeError, ValueError):
        steps = 0
    if not steps or period <= 0:
        return WARMUP_EPISODES
    return max(WARMUP_EPISODES, math.ceil(WARMUP_SECONDS / (steps * period) - 1e-9))


def node_commands(
    ctx: DemoContext, io: LoopIO | None = None, warmup: int = WARMUP_EPISODES
) -> list[tuple[str, str, list[str]]]:
    """(name, module, ros args) of every process (recorder, monitor, policy node, sim bridge)."""
    run, s = ctx.run, ctx.settings
    io = io or bundle_io(ctx)
    p = lambda k, v: ["-p", f"{k}:={v}"]  # noqa: E731
    ps = lambda params: [a for k, v in params.items() for a in p(k, v)]  # noqa: E731
    policy, dynamics = str(run.policy_bundle.resolve()), str(run.dynamics_bundle.resolve())
    out = str((run.closed_loop_dir / "recording.json").resolve())
    bag = str((run.closed_loop_dir / BAG).resolve())
    n_episodes = s.episodes + warmup
    joint_states = p("joint_state_topic", io.latency_topic) if io.latency_topic else []
    return [
        ("recorder", "rnn_control.ros.topic_recorder", [
            *p("output", out), *p("episodes", n_episodes), *p("observation_topic", io.observation_topic),
            *p("command_topic", COMMAND_TOPIC), *p("prediction_topic", PREDICTION_TOPIC),
            *p("episode_return_topic", "/sim_bridge/episode_return"), *p("bag", bag), *joint_states,
        ]),
        ("dynamics_monitor", "rnn_control.ros.dynamics_monitor_node", [
            "-r", "__node:=dynamics_monitor", *p("bundle", dynamics), *ps(io.monitor_params),
        ]),
        ("policy_node", "rnn_control.ros.policy_node", [
            "-r", f"__node:={POLICY_NODE}", *p("bundle", policy), *p("autostart", "true"),
            *p("mode", "event"), *ps(io.policy_params),
        ]),
        ("sim_bridge", "rnn_control.ros.sim_bridge_node", [
            "-r", "__node:=sim_bridge", *p("bundle", policy), *p("mode", "realtime"),
            *p("seed", s.seed - warmup), *p("max_episodes", n_episodes),
            *p("policy_reset_service", f"/{POLICY_NODE}/reset"),
            *p("reset_services", "[/dynamics_monitor/reset]"), *ps(io.bridge_params),
        ]),
    ]  # fmt: skip


def _start_in_order(
    ctx: DemoContext, group: ProcessGroup, commands: list[tuple[str, str, list[str]]]
) -> None:
    """Recorder, monitor and policy node first; the sim bridge (which steps on its own steady
    clock, like a robot) once they all say they are up, so no step runs without a controller."""
    for name, module, args in commands:
        if name == "sim_bridge":
            for n in group.nodes:
                if not n.wait_for_log(READY_LINES[n.name], 30.0):
                    ctx.say(f"  (no '{READY_LINES[n.name]}' line from {n.name} after 30 s; going on)")
        node = group.start(name, module, args)
        ctx.say(f"  {name} (pid {node.pid}), log {node.log_path}")


def run_closed_loop(ctx: DemoContext) -> StageResult:
    s, run = ctx.settings, ctx.run
    if ctx.domain_id is None:
        raise RnnControlError("closed loop: no ROS domain chosen (preflight did not run)")
    out_dir = run.closed_loop_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    recording_path = out_dir / "recording.json"
    recording_path.unlink(missing_ok=True)
    shutil.rmtree(out_dir / BAG, ignore_errors=True)  # the recorder never overwrites a bag
    period = _control_period(ctx)
    io = bundle_io(ctx)
    warmup = warmup_episodes(ctx, period)
    max_steps = int(ctx.scenario.env.max_episode_steps or 200)
    budget = 60.0 + (s.episodes + warmup) * max_steps * period * 1.5
    ctx.say(
        f"starting 3 nodes + recorder on ROS domain {ctx.domain_id} "
        f"(real time, {warmup} warm-up + {s.episodes} episodes); in: "
        + ", ".join(f"{g} on {t}" for g, t in io.topics.items())
        + (", a step once every group has a new message" if io.policy_params.get("trigger") == "all" else "")
    )
    group = ProcessGroup(node_env(ctx.domain_id), out_dir / "logs")
    t0 = time.monotonic()
    try:
        _start_in_order(ctx, group, node_commands(ctx, io, warmup))
        recorder = next(n for n in group.nodes if n.name == "recorder")
        last_seen = -1
        while recorder.alive():
            died = [n for n in group.nodes if not n.alive() and n.name not in ("sim_bridge", "recorder")]
            if died:
                n = died[0]
                raise RnnControlError(
                    f"closed loop: the {n.name} process exited early (code {n.popen.returncode}); "
                    f"last lines of {n.log_path}:\n{n.log_tail()}"
                )
            if time.monotonic() - t0 > budget:
                raise RnnControlError(
                    f"closed loop: no result after {budget:.0f} s; see the logs in {out_dir / 'logs'}\n"
                    + "\n".join(f"--- {n.name}:\n{n.log_tail(6)}" for n in group.nodes)
                )
            seen = _episodes_done(recording_path)
            if seen > last_seen:
                last_seen = seen
                if seen:
                    what = "warm-up episode" if seen <= warmup else f"episode {seen - warmup}/{s.episodes}"
                    ctx.say(f"  {what} done")
            time.sleep(0.2)
        # the bridge ends by itself after its last episode, like the recorder: let it finish
        # exiting rather than signal it mid-way (that showed up as "stopped by SIGINT (exit -2)")
        bridge = next(n for n in group.nodes if n.name == "sim_bridge")
        deadline = time.monotonic() + 3.0
        while bridge.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stopped = group.stop()
        ctx.say("stopped: " + ", ".join(f"{k} {v}" for k, v in stopped.items()))
    if not recording_path.is_file():
        raise RnnControlError(f"closed loop: the recorder wrote nothing; see {out_dir / 'logs'}")
    recording = json.loads(recording_path.read_text())
    recording.update(
        warmup_episodes=warmup,
        observation_sources=io.observation_sources,
        observation_names=io.observation_names,
        command_names=io.command_names,
        latency_from=io.latency_from,
    )
    if not io.latency_topic:
        recording.pop("sensor_times", None)  # the latency runs from the observation topic
    summary = summarize(recording, period)
    summary["io"] = io.describe()
    summary["processes"] = stopped
    summary["wall_s"] = round(time.monotonic() - t0, 2)
    if not summary["returns"]:
        raise RnnControlError(f"closed loop: no episode finished; see {out_dir / 'logs'}")
    _add_predictions(ctx, recording, summary)
    write_json_atomic(recording_path, recording)
    write_json_atomic(out_dir / "closed_loop.json", summary)
    lat = summary["latency_ms"]
    ctx.say(
        f"closed loop over ROS: return {summary['return_mean']:.1f} +/- {summary['return_std']:.1f} "
        f"({len(summary['returns'])} episodes), latency p50 {lat['p50']:.2f} ms p99 {lat['p99']:.2f} ms"
    )
    return [recording_path, out_dir / "closed_loop.json"], summary


def _control_period(ctx: DemoContext) -> float:
    from rnn_control.runtime import read_bundle_metadata

    return float(read_bundle_metadata(ctx.run.policy_bundle).control_period)


def _episodes_done(path: Path) -> int:
    try:
        return len(json.loads(path.read_text()).get("returns", []))
    except (OSError, json.JSONDecodeError):
        return 0


def step_latencies_ms(recording: dict[str, Any]) -> list[float]:
    """Per step: observation published (sim bridge) -> command published (policy node), from the
    middleware's source timestamps; each command pairs with the latest observation before it.
    A recording with ``sensor_times`` (a robot bundle's JointState, published by the sim bridge
    as the last message of each sample) measures from those instead: its observation vector is the
    one the policy node assembled and published after its step."""
    start = recording.get("sensor_times") or recording.get("observation_times", [])
    obs_t = np.asarray(start, dtype=np.int64)
    cmd_t = np.asarray(recording.get("command_times", []), dtype=np.int64)
    if not obs_t.size or not cmd_t.size:
        return []
    idx = np.searchsorted(obs_t, cmd_t, side="right") - 1
    ok = idx >= 0
    lat = (cmd_t[ok] - obs_t[idx[ok]]) / 1e6
    # one command per observation: keep the first command after each observation
    _, first = np.unique(idx[ok], return_index=True)
    return lat[first].tolist()


def summarize(recording: dict[str, Any], period: float) -> dict[str, Any]:
    """Returns, latency percentiles and message counts of a recording."""
    lat = np.asarray(step_latencies_ms(recording), dtype=float)
    recording["latencies_ms"] = lat.tolist()
    all_returns = [float(r) for r in recording.get("returns", [])]
    warmup = int(recording.get("warmup_episodes", WARMUP_EPISODES))
    returns = all_returns[warmup:]
    keys = ("p50", "p99", "max", "mean")
    stats: dict[str, Any] = dict.fromkeys(keys, float("nan"))
    if lat.size:
        stats.update(p50=np.percentile(lat, 50), p99=np.percentile(lat, 99), max=lat.max(), mean=lat.mean())
    stats = {k: float(v) for k, v in stats.items()}
    stats["count"] = int(lat.size)
    obs_t = np.asarray(recording.get("observation_times", []))
    bounds = [0] + [int(np.searchsorted(obs_t, t)) for t in recording.get("return_times", [])[:-1]]
    recording["episode_bounds"] = bounds
    recording["control_period"] = period
    policy_diag = [d for d in recording.get("diagnostics", []) if "policy" in d.get("name", "")]
    return {
        "returns": returns,
        "warmup_returns": all_returns[:warmup],
        "return_mean": float(np.mean(returns)) if returns else float("nan"),
        "return_std": float(np.std(returns)) if returns else float("nan"),
        "latency_ms": stats,
        "latency_from": recording.get("latency_from", "observation published by the sim bridge"),
        "observations": len(recording.get("observations", [])),
        "commands": len(recording.get("commands", [])),
        "predictions_live": len(recording.get("predictions", [])),
        "policy_node_diagnostics": policy_diag[-1]["values"] if policy_diag else None,
        "all_finite": bool(
            np.isfinite(np.asarray(recording.get("commands", []) or [[0.0]], dtype=float)).all()
        ),
    }


def _add_predictions(ctx: DemoContext, recording: dict[str, Any], summary: dict[str, Any]) -> None:
    """Pair each live prediction with the observation that followed it; if the monitor
    published none, replay the recorded (observation, command) stream through the dynamics
    bundle with the runtime, exactly as the monitor would. The dynamics bundle predicts its own
    sensor fields; each is found among the recorded columns by its source."""
    from rnn_control.runtime import read_bundle_metadata

    obs = np.asarray(recording.get("observations", []), dtype=float)
    obs_t = np.asarray(recording.get("observation_times", []), dtype=np.int64)
    cmd_t = np.asarray(recording.get("command_times", []), dtype=np.int64)
    starts = set(recording.get("episode_bounds", [0]))
    sources = recording.get("observation_sources") or [f"vector/{i}" for i in range(obs.shape[-1])]
    cols = prediction_columns(sources, read_bundle_metadata(ctx.run.dynamics_bundle))
    if cols is None or obs.ndim != 2 or (cols and max(cols) >= obs.shape[1]):
        summary["prediction_source"] = "none: the recording lacks a field the dynamics bundle predicts"
        recording["predictions"] = []
        return
    names = recording.get("observation_names") or sources
    recording["prediction_names"] = [names[c] for c in cols]
    target = obs[:, cols]
    # The monitor publishes the predicted mean then its std: keep the mean.
    preds = [p[: len(cols)] for p in recording.get("predictions", [])] if len(obs) else []
    if preds and cmd_t.size:
        # prediction <- the command that triggered it <- the observation that command answered;
        # its target is the observation after that one (same episode).
        c = (
            np.searchsorted(cmd_t, np.asarray(recording["prediction_times"], dtype=np.int64), side="right")
            - 1
        )
        o = np.searchsorted(obs_t, cmd_t[np.maximum(c, 0)], side="right") - 1
        keep = [
            k for k in range(len(preds)) if c[k] >= 0 and 0 <= o[k] < len(obs) - 1 and o[k] + 1 not in starts
        ]
        recording["predictions"] = [preds[k] for k in keep]
        recording["prediction_targets"] = [target[o[k] + 1].tolist() for k in keep]
        recording["prediction_steps"] = [int(o[k] + 1) for k in keep]
        summary["prediction_source"] = "live, from the dynamics monitor node"
    else:
        cmds = np.asarray(recording.get("commands", []), dtype=float)
        n = min(len(obs), len(cmds))
        if n < 2:
            return
        from rnn_control.runtime import Stepper

        model = Stepper.load(ctx.run.dynamics_bundle)
        pred = []
        for t in range(n - 1):
            if t in starts:
                model.reset()
            x = np.concatenate([target[t], cmds[t]]).astype(np.float32)
            pred.append(np.asarray(model.step(x), float).tolist())
        recording["predictions"] = pred
        recording["prediction_targets"] = target[1:n].tolist()
        recording["prediction_steps"] = list(range(1, n))
        summary["prediction_source"] = "replayed through the dynamics bundle (the monitor published none)"
    p, a = np.asarray(recording["predictions"]), np.asarray(recording["prediction_targets"])
    if p.size and p.shape == a.shape:
        summary["prediction_rmse"] = np.sqrt(((p - a) ** 2).mean(0)).tolist()
