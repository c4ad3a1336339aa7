"""``rnn-control demo --quick`` end to end: real training on a tiny budget, export with parity
checks, sim bridge + policy node + dynamics monitor as separate processes over real DDS, the
report. The run is interrupted with Ctrl-C (SIGINT to its process group) while the ROS nodes are
up: no process may survive and the finished stages must stay finished; the re-run resumes and
completes, and every artifact is checked."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
NODES = ("sim_bridge_node", "policy_node", "dynamics_monitor_node")

pytestmark = [
    pytest.mark.ros,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        any(importlib.util.find_spec(f"rnn_control.ros.{m}") is None for m in NODES),
        reason="the ROS nodes are not in this version",
    ),
]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by a dead parent) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _demo_cmd(run: Path) -> list[str]:
    return [sys.executable, "-m", "rnn_control", "demo", "--quick", "--run-dir", str(run), "--no-progress"]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")


def _default_sigint() -> None:
    """In the demo's process: SIGINT as a terminal gives it. A test runner started in the background
    of a non-interactive shell ignores SIGINT, every child inherits that, and the Ctrl-C below would
    then be lost (the demo ran to its end)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# The closed loop runs in real time (20 Hz): a command that misses its tick is applied one tick
# late. Measured on the pendulum_novel --quick policy (seeds 1000, 1001; returns -372, -485): even
# 20% of the commands late move an episode's return by at most 2.8 (10%: 0.2); every command one
# tick late moves it by 9.5, commands that never arrive (the safe command held) by 114, a policy
# that sees no new observation by 13, the episodes of the wrong seeds by ~110.
ROS_RETURN_TOLERANCE = 2.0
# arm3_reach --quick (returns -30.8, -14.1; position targets tracked by a PD loop, so a late command
# barely shows): 50% of the commands late move a return by <= 0.07, every command one tick late by
# 0.05 (not caught), a policy that sees no new observation by 0.93, commands that never arrive by 3.2.
ROS_RETURN_TOLERANCES = {"pendulum_novel": ROS_RETURN_TOLERANCE, "arm3_reach": 0.5}


def test_demo_quick_interrupted_then_resumed_end_to_end(tmp_path):
    run = tmp_path / "run"
    # --- first run: Ctrl-C once the ROS processes are up ------------------------------------------
    proc = subprocess.Popen(
        _demo_cmd(run), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, preexec_fn=_default_sigint,
    )  # fmt: skip
    pids, lines = [], []
    deadline = time.monotonic() + 300
    for line in proc.stdout:
        lines.append(line)
        m = re.search(r"\(pid (\d+)\)", line)
        if m:
            pids.append(int(m.group(1)))
        if len(pids) == 4 or time.monotonic() > deadline:
            break
    assert len(pids) == 4, "".join(lines)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    out, _ = proc.communicate(timeout=60)
    text = "".join(lines) + out
    assert proc.returncode == 130, text
    assert "interrupted" in text
    assert not [p for p in pids if _alive(p)], f"stray processes after Ctrl-C: {pids}\n{text}"
    stages = {p.stem for p in (run / "stages").glob("*.json")}
    assert {"policy", "dynamics", "evaluate", "export"} <= stages and "closed_loop" not in stages, stages
    # --- second run: reuses the finished stages, runs the closed loop, writes the report --------
    res = subprocess.run(_demo_cmd(run), env=_env(), capture_output=True, text=True, timeout=400)
    text = res.stdout + res.stderr
    assert res.returncode == 0, text
    for stage in ("train the policy", "train the dynamics model", "export ONNX bundles"):
        assert re.search(rf"{stage}.*reusing", text), text
    pids2 = [int(p) for p in re.findall(r"\(pid (\d+)\)", text)]
    assert len(pids2) == 4 and not [p for p in pids2 if _alive(p)]
    for rel in (
        "policy/checkpoint.pt", "dynamics/checkpoint.pt", "bundles/policy.onnx", "bundles/dynamics.onnx",
        "learning_curve.png", "closed_loop.png", "summary.md", "summary.json", "explain/gates.png",
        "explain/attribution.png", "closed_loop/recording.json", "closed_loop/logs/policy_node.log",
        "closed_loop/recording/metadata.yaml", "closed_loop/recording/recording.mcap",
    ):  # fmt: skip
        assert (run / rel).is_file() and (run / rel).stat().st_size > 0, rel
    summary = json.loads((run / "summary.json").read_text())
    r = summary["returns"]
    assert len(r["ros_returns"]) == 2 and all(math.isfinite(x) for x in r["ros_returns"])
    for key in ("ros_mean", "in_process_mean", "random_mean"):
        assert math.isfinite(r[key]), key
    # over ROS the same episodes (seeds 1000 + k) as in-process, episode by episode
    assert len(r["in_process_returns"]) == len(r["random_returns"]) == 2
    ros, same = np.array(r["ros_returns"]), np.array(r["in_process_returns"][:2])
    assert np.abs(ros - same).max() <= ROS_RETURN_TOLERANCES[summary["scenario"]], r
    assert r["max_abs_episode_difference"] == pytest.approx(np.abs(ros - same).max())
    # Not asserted: trained beats random. --quick trains too little to learn (arm3_reach: -22.4 vs
    # random -23.3; pendulum_novel: -428.3 vs -431.5); the full demo does (arm3 -2.3 vs -25.0).
    lat = summary["latency_ms"]
    assert lat["count"] >= 100 and 0 < lat["p50"] <= lat["p99"]  # 2 episodes x 100 steps
    assert summary["parity"]["policy"] and summary["parity"]["dynamics"]
    assert any(line.startswith("ros2 launch rnn_control") for line in summary["redeploy"])
    closed = json.loads((run / "closed_loop" / "closed_loop.json").read_text())
    assert closed["all_finite"] and closed["predictions_live"] > 0
    md = (run / "summary.md").read_text()
    assert "closed loop over ROS 2" in md and "Redeploy on a robot" in md
    # --- a third run reuses everything (nothing trained, no nodes started) ---------------------------
    res = subprocess.run(_demo_cmd(run), env=_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "(pid " not in res.stdout and res.stdout.count("reusing") == 6, res.stdout


@pytest.mark.parametrize("scenario", ["arm3_reach", pytest.param("pendulum_novel", marks=pytest.mark.slow)])
def test_demo_quick_per_scenario_io_returns_match_in_process(tmp_path, scenario):
    """arm3_reach (own MJCF, 3 joints, position mode + PD): the closed loop runs over JointState +
    the target vector, the policy node steps once both arrived (trigger all), the recorder keeps
    the policy node's assembled observation, the latency starts at the bridge's JointState.
    pendulum_novel: the vector loop as it always was. Both: the returns over ROS match the
    in-process ones per episode (real time: a late command would move them, hence a tolerance)."""
    run = tmp_path / scenario
    res = subprocess.run(
        [*_demo_cmd(run), "--scenario", scenario], env=_env(), capture_output=True, text=True, timeout=400
    )
    text = res.stdout + res.stderr
    assert res.returncode == 0, text
    summary = json.loads((run / "summary.json").read_text())
    r = summary["returns"]
    assert len(r["ros_returns"]) == 2
    assert all(math.isfinite(x) for x in r["ros_returns"] + r["random_returns"])
    # real time: a late command moves a return (arm3, full run: one moved it by 0.11)
    tolerance = 1.0 if scenario == "arm3_reach" else ROS_RETURN_TOLERANCE
    assert r["max_abs_episode_difference"] <= tolerance, r
    assert summary["latency_ms"]["count"] >= 100 and summary["latency_ms"]["p50"] > 0
    io = summary["closed_loop_io"]
    rec = json.loads((run / "closed_loop" / "recording.json").read_text())
    closed = json.loads((run / "closed_loop" / "closed_loop.json").read_text())
    assert closed["all_finite"] and closed["predictions_live"] > 0 and rec["predictions"]
    bag = (run / "closed_loop" / "recording" / "metadata.yaml").read_text()
    md = (run / "summary.md").read_text()
    if scenario == "arm3_reach":
        assert "joint_state on joint_states" in text, text
        assert io["robot"] and io["trigger"] == "all" and io["inputs"]["joint_state"] == "joint_states"
        assert summary["latency_from"].startswith("JointState published by the sim bridge")
        assert len(rec["observations"][0]) == 8 and rec["observation_names"][0] == "shoulder_pos"
        assert rec["prediction_names"] == rec["observation_names"]
        assert "joint_states" in bag and "JointState published" in md
    else:
        assert not io["robot"] and io["inputs"] == {"vector": "observation"}
        assert summary["latency_from"] == "observation published by the sim bridge"
        assert rec["prediction_names"] == ["cos_theta", "sin_theta"] and "joint_states" not in bag
