"""The demo's report: learning curve, closed-loop plot, ``summary.md`` and ``summary.json``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.atomic import write_json_atomic
from rnn_control.demo.stages import DemoContext, StageResult, flat_parity


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _marker_info(ctx: DemoContext, stage: str) -> dict[str, Any] | None:
    m = ctx.run.completed(stage)
    return None if m is None else {**m.get("info", {}), "seconds": m.get("seconds")}


def redeploy_commands(ctx: DemoContext) -> list[str]:
    """Exact lines to run the bundles on a robot (ROS 2 distro sourced, package built)."""
    policy = ctx.run.policy_bundle.resolve()
    dynamics = ctx.run.dynamics_bundle.resolve()
    return [
        "# from this machine: copy the bundles to the robot",
        f"scp {policy} {dynamics} robot:~/bundles/",
        "# on the robot: source ROS 2 and the workspace holding rnn_control (see 'Deploy on a robot')",
        "source /opt/ros/$ROS_DISTRO/setup.bash && source ~/ros2_ws/install/setup.bash",
        "# policy node (config/policy_node.yaml; remap the sensor/command topics to your robot's)",
        "ros2 launch rnn_control policy.launch.py bundle:=$HOME/bundles/policy.onnx",
        "# or the node alone, configured and activated at start",
        "ros2 run rnn_control policy_node --ros-args -p bundle:=$HOME/bundles/policy.onnx -p autostart:=true",
        "# dynamics monitor beside it (prediction error -> /diagnostics)",
        "ros2 run rnn_control dynamics_monitor_node --ros-args -p bundle:=$HOME/bundles/dynamics.onnx",
        "# this demo's closed loop (sim bridge + policy node + dynamics monitor) from a launch file",
        f"ros2 launch rnn_control sim_closed_loop.launch.py bundle:={policy} dynamics_bundle:={dynamics}",
    ]


def _legend(ax) -> None:
    handles = ax.get_legend_handles_labels()[0]
    if handles:
        ax.legend(fontsize=6 if len(handles) > 6 else 7, ncol=2 if len(handles) > 8 else 1)


def _names(names: list[str] | None, values: np.ndarray, prefix: str) -> list[str]:
    """Column labels: the recorded field names where they fit, else ``<prefix>_<i>``."""
    n = values.shape[1] if values.ndim == 2 else 0
    return list(names) if names and len(names) == n else [f"{prefix}_{i}" for i in range(n)]


def plot_closed_loop(recording: dict[str, Any], out: Path, title: str = "") -> Path:
    """Observations, commands, prediction vs actual, and the per-step latency histogram."""
    plt = _plt()
    obs = np.asarray(recording.get("observations", []), dtype=float)
    cmd = np.asarray(recording.get("commands", []), dtype=float)
    pred = np.asarray(recording.get("predictions", []), dtype=float)
    pred_actual = np.asarray(recording.get("prediction_targets", []), dtype=float)
    lat = np.asarray(recording.get("latencies_ms", []), dtype=float)
    period = float(recording.get("control_period", 0.05))
    obs_names = _names(recording.get("observation_names"), obs, "obs")
    cmd_names = _names(recording.get("command_names"), cmd, "command")
    pred_names = _names(recording.get("prediction_names"), pred, "obs")
    fig, axes = plt.subplots(2, 2, figsize=(12, 7))
    ax = axes[0, 0]
    if obs.size:
        t = np.arange(len(obs)) * period
        for i in range(obs.shape[1]):
            ax.plot(t, obs[:, i], lw=0.8, label=obs_names[i])
    for b in recording.get("episode_bounds", [])[1:]:
        ax.axvline(b * period, color="gray", lw=0.6, ls=":")
    robot = bool(recording.get("sensor_times"))  # a robot bundle: the policy node's own input vector
    ax.set_title("observations the policy node assembled" if robot else "observations received over ROS")
    ax.set_xlabel("time [s]")
    _legend(ax)
    ax = axes[0, 1]
    if cmd.size:
        t = np.arange(len(cmd)) * period
        for j in range(cmd.shape[1]):
            ax.plot(t, cmd[:, j], lw=0.8, label=cmd_names[j])
    ax.set_title("commands from the policy node")
    ax.set_xlabel("time [s]")
    _legend(ax)
    ax = axes[1, 0]
    if pred.size and pred_actual.size:
        n = min(len(pred), len(pred_actual))
        steps = np.asarray(recording.get("prediction_steps") or np.arange(n))[:n]
        t = steps * period
        for i in range(pred.shape[1]):
            (line,) = ax.plot(t, pred_actual[:n, i], lw=1.0, label=pred_names[i])
            ax.plot(t, pred[:n, i], lw=1.0, ls="--", color=line.get_color())
        ax.set_title("dynamics monitor: one-step prediction (dashed) vs actual")
    else:
        ax.text(0.5, 0.5, "no predictions recorded", ha="center", transform=ax.transAxes)
    ax.set_xlabel("time [s]")
    _legend(ax)
    ax = axes[1, 1]
    if lat.size:
        p50, p99 = np.percentile(lat, [50, 99])
        ax.hist(lat, bins=50, color="tab:blue")
        ax.axvline(p50, color="k", ls="--", label=f"p50 {p50:.2f} ms")
        ax.axvline(p99, color="tab:red", ls="--", label=f"p99 {p99:.2f} ms")
        ax.legend()
    start = str(recording.get("latency_from") or "observation published").split(" (")[0]
    ax.set_title(f"{start.replace(' by the sim bridge', '')} -> command published (per step)", fontsize=9)
    ax.set_xlabel("ms")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def write_report(ctx: DemoContext) -> StageResult:
    run = ctx.run
    s = ctx.settings
    outputs: list[Path] = []
    stage_info = {
        name: _marker_info(ctx, name)
        for name in ("policy", "dynamics", "evaluate", "export", "closed_loop", "explain")
    }
    curve = run.policy_dir / "learning_curve.png"
    if curve.is_file():
        shutil.copyfile(curve, run.root / "learning_curve.png")
        outputs.append(run.root / "learning_curve.png")
    recording_path = run.closed_loop_dir / "recording.json"
    if recording_path.is_file():
        recording = json.loads(recording_path.read_text())
        outputs.append(
            plot_closed_loop(
                recording, run.root / "closed_loop.png", f"{ctx.scenario.name}: closed loop over ROS 2"
            )
        )
    cl, ex = stage_info["closed_loop"] or {}, stage_info["export"] or {}
    total_s = sum((v or {}).get("seconds") or 0 for v in stage_info.values())
    summary = {
        "scenario": ctx.scenario.name,
        "quick": s.quick,
        "settings": s.to_dict(),
        "stage_seconds": {k: (v or {}).get("seconds") for k, v in stage_info.items()},
        "total_stage_seconds": round(total_s, 1),
        "returns": compare_returns(run.evaluate_dir / "evaluation.json", cl.get("returns")),
        "latency_ms": cl.get("latency_ms"),
        "latency_from": cl.get("latency_from"),
        "closed_loop_io": cl.get("io"),
        "parity": {k: v.get("parity") for k, v in ex.items() if isinstance(v, dict)},
        "dynamics_open_loop_nrmse": (stage_info["dynamics"] or {}).get("open_loop_nrmse"),
        "explain": {k: v for k, v in (stage_info["explain"] or {}).items() if k != "text"},
        "redeploy": redeploy_commands(ctx),
        "files": {p.name: str(p) for p in outputs},
        "stages": stage_info,
    }
    outputs.append(write_json_atomic(run.root / "summary.json", summary))
    md = run.root / "summary.md"
    md.write_text(_markdown(ctx, summary, stage_info))
    outputs.append(md)
    _print_short(ctx, summary)
    return outputs, {"summary": str(run.root / "summary.json")}


def compare_returns(evaluation_json: Path, ros_returns: list[float] | None) -> dict[str, Any]:
    """In-process vs ROS returns on the same episode seeds, and the random policy."""
    ev = json.loads(evaluation_json.read_text()) if evaluation_json.is_file() else {}
    sim = [float(x) for x in ev.get("policy_returns", [])]
    ros = [float(x) for x in ros_returns or []]
    same = sim[: len(ros)]
    out: dict[str, Any] = {
        "in_process_returns": sim,
        "in_process_mean": ev.get("policy_mean"),
        "in_process_std": ev.get("policy_std"),
        "ros_returns": ros,
        "ros_mean": float(np.mean(ros)) if ros else None,
        "ros_std": float(np.std(ros)) if ros else None,
        "random_returns": ev.get("random_returns", []),
        "random_mean": ev.get("random_mean"),
        "random_std": ev.get("random_std"),
        "episodes_in_process": len(sim),
        "episodes_ros": len(ros),
    }
    if ros and len(same) == len(ros):
        out["in_process_same_episodes_mean"] = float(np.mean(same))
        out["in_process_same_episodes_std"] = float(np.std(same))
        out["max_abs_episode_difference"] = float(np.max(np.abs(np.asarray(same) - np.asarray(ros))))
    return out


def _eps(n: int) -> str:
    return f"{n} (k = 0..{n - 1})" if n else "0"


def _fmt(mean: float | None, std: float | None) -> str:
    return "n/a" if mean is None else f"{mean:.1f} +/- {std or 0:.1f}"


def _markdown(ctx: DemoContext, summary: dict[str, Any], stage_info: dict[str, Any]) -> str:
    r = summary["returns"]
    lat = summary["latency_ms"] or {}
    lines = [
        f"# rnn_control demo: {summary['scenario']}" + (" (quick)" if summary["quick"] else ""),
        "",
        "## Returns",
        "",
        "| policy | episodes | return |",
        "|---|---|---|",
        f"| trained, in-process evaluation (PyTorch checkpoint) | {_eps(r['episodes_in_process'])} | "
        f"{_fmt(r['in_process_mean'], r['in_process_std'])} |",
    ]
    if "in_process_same_episodes_mean" in r:
        lines.append(
            f"| trained, in-process, the episodes run over ROS | {_eps(r['episodes_ros'])} | "
            f"{_fmt(r['in_process_same_episodes_mean'], r['in_process_same_episodes_std'])} |"
        )
    lines += [
        f"| trained, closed loop over ROS 2 (ONNX bundle, 3 node processes) | {_eps(r['episodes_ros'])} | "
        f"{_fmt(r['ros_mean'], r['ros_std'])} |",
        f"| random actions | {_eps(r['episodes_in_process'])} | {_fmt(r['random_mean'], r['random_std'])} |",
        "",
        f"Episode k is reset with seed {summary['settings']['seed']} + k in every row.",
    ]
    if "max_abs_episode_difference" in r:
        lines.append(
            f"Per episode, the closed loop over ROS and the in-process evaluation differ by at most "
            f"{r['max_abs_episode_difference']:.3g} (return units)."
        )
    lines += [
        "",
        "## Closed loop",
        "",
    ]
    io = summary.get("closed_loop_io") or {}
    if io.get("inputs"):
        inputs = ", ".join(f"{g} on `{t}`" for g, t in io["inputs"].items())
        lines += [
            f"Policy node inputs: {inputs}; it steps on {_trigger(io.get('trigger'))}; commands "
            f"({', '.join(io.get('command_names') or [])}) as Float64MultiArray on `command`. "
            f"The recorder keeps `{io.get('recorded_observation')}` as the observation.",
            "",
        ]
    if lat:
        start = summary.get("latency_from") or "observation published by the sim bridge"
        lines.append(
            f"Per-step latency, {start} -> command published by the "
            "policy node (DDS source timestamps; one hop + the node's step): "
            f"p50 {lat.get('p50'):.2f} ms, "
            f"p99 {lat.get('p99'):.2f} ms, max {lat.get('max'):.2f} ms over {lat.get('count')} steps."
        )
    else:
        lines.append("(closed loop not run)")
    lines += ["", "## Export parity (onnxruntime vs PyTorch)", ""]
    for name, p in (summary["parity"] or {}).items():
        flat = flat_parity(p or {})
        shown = {k.split(".")[-1]: v for k, v in flat.items() if "max_abs" in k or "tol" in k or "steps" in k}
        lines.append(f"- {name}: " + ", ".join(f"{k} {v:.3g}" for k, v in shown.items()))
    if not summary["parity"]:
        lines.append("(export not run)")
    ex = stage_info.get("explain") or {}
    if ex.get("text"):
        lines += [
            "",
            "## Explain",
            "",
            "```",
            ex["text"],
            "```",
            "",
            "![gates](explain/gates.png)",
            "![attribution](explain/attribution.png)",
        ]
    lines += ["", "## Stages", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v if v is not None else 'not run'} |" for k, v in summary["stage_seconds"].items()]
    lines += ["", "## Plots", ""] + [f"![{n}]({n})" for n in summary["files"] if n.endswith(".png")]
    lines += ["", "## Redeploy on a robot", "", "```bash", *summary["redeploy"], "```", ""]
    return "\n".join(lines)


def _trigger(trigger: str | None) -> str:
    if trigger == "all":
        return "every sample once each sensor group has a new message (trigger all)"
    return "each observation message"


def _print_short(ctx: DemoContext, summary: dict[str, Any]) -> None:
    r = summary["returns"]
    lat = summary["latency_ms"] or {}
    n_sim, n_ros = r["episodes_in_process"], r["episodes_ros"]
    ctx.say(
        f"return in simulation (in-process, {n_sim} ep): {_fmt(r['in_process_mean'], r['in_process_std'])}"
    )
    if "in_process_same_episodes_mean" in r:
        same = _fmt(r["in_process_same_episodes_mean"], r["in_process_same_episodes_std"])
        ctx.say(f"  ... on the {n_ros} episodes run over ROS:   {same}")
    ctx.say(f"return over ROS 2 (closed loop, {n_ros} ep):  {_fmt(r['ros_mean'], r['ros_std'])}")
    ctx.say(f"random policy ({n_sim} ep):                  {_fmt(r['random_mean'], r['random_std'])}")
    if lat:
        ctx.say(f"step latency p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms")
    ctx.say(f"report: {ctx.run.root / 'summary.md'}")
