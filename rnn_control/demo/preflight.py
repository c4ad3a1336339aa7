"""Checks that run before any long work: each failure is one line saying what to do."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rnn_control.demo.ros_domain import check_domain_id, pick_free_domain
from rnn_control.demo.run_folder import RunFolder
from rnn_control.demo.settings import DemoSettings, settings_path
from rnn_control.errors import ConfigError, RnnControlError


class PreflightError(RnnControlError):
    """Bad input found before the demo started any work."""


def check_scenario(settings: DemoSettings):
    """Load the scenario with the demo's overrides (unknown names list the shipped ones)."""
    from rnn_control.scenario import load_scenario

    try:
        return load_scenario(settings.scenario, settings.overrides or None)
    except ConfigError as exc:
        raise PreflightError(f"{exc} (run 'rnn-control scenarios' to list them)") from exc


def check_run_folder(run: RunFolder, settings: DemoSettings) -> None:
    """The run folder must be writable and, if it holds an earlier run, from the same settings."""
    root = run.root
    existing = next((p for p in [root, *root.parents] if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise PreflightError(
            f"run folder {root}: '{existing}' is a file, not a folder; choose another --run-dir"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise PreflightError(
            f"run folder {root} is not writable ({exc.strerror or exc}); choose another --run-dir"
        ) from exc
    stored = settings_path(root)
    if stored.is_file():
        import json

        try:
            old = json.loads(stored.read_text())
        except (OSError, json.JSONDecodeError):
            old = {}
        diffs = settings.differences(old)
        if diffs:
            raise PreflightError(
                f"run folder {root} holds a demo run with other settings ({'; '.join(diffs)}): "
                "use another --run-dir, or --fresh to start this one over"
            )


def check_ros_installation() -> None:
    """rclpy and the message packages the nodes use must be importable (in a child process:
    importing rclpy here would pin this process to a domain)."""
    if importlib.util.find_spec("rclpy") is None:
        raise PreflightError(
            "ROS 2 Python (rclpy) is not installed: run 'pip install -e .[ros]' (PyPI wheels), or "
            "source your ROS 2 distro (source /opt/ros/<distro>/setup.bash) before running the demo"
        )
    code = "import rclpy, std_msgs.msg, sensor_msgs.msg, diagnostic_msgs.msg, std_srvs.srv"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["?"])[-1]
        raise PreflightError(
            f"ROS 2 Python is installed but does not load ({last}): reinstall with "
            "'pip install -e .[ros]' or source a complete ROS 2 distro"
        )


def choose_domain(forced: int | None) -> tuple[int, str]:
    """The ROS domain for the closed loop and a line saying why it was chosen."""
    if forced is not None:
        problem = check_domain_id(forced)
        if problem:
            raise PreflightError(problem)
        return forced, f"ROS domain {forced} (--domain-id, free)"
    env = os.environ.get("ROS_DOMAIN_ID")
    preferred = int(env) if env and env.isdigit() else None
    domain = pick_free_domain(preferred)
    why = "from ROS_DOMAIN_ID, free" if domain == preferred else "a free one on this machine"
    return domain, f"ROS domain {domain} ({why}; discovery on localhost)"


def ros_node_modules_present() -> list[str]:
    """Node modules the closed loop needs that this version does not have."""
    needed = ("sim_bridge_node", "policy_node", "dynamics_monitor_node")
    return [m for m in needed if importlib.util.find_spec(f"rnn_control.ros.{m}") is None]


def repo_root() -> Path:
    """Folder holding the ``rnn_control`` package (for the nodes' PYTHONPATH)."""
    import rnn_control

    return Path(rnn_control.__file__).resolve().parent.parent
