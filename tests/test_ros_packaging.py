"""Packaging for ROS users: the colcon workspace builds and installs the node executables where
``ros2 run`` looks; the nodes that run on a robot import neither torch nor gymnasium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXECUTABLES = ("policy_node", "mpc_node", "dynamics_monitor_node", "sim_bridge_node")


@pytest.mark.parametrize("module", ["policy_node", "mpc_node", "dynamics_monitor_node", "codecs", "common"])
def test_robot_side_nodes_do_not_load_torch_or_gymnasium(module):
    pytest.importorskip("rclpy")
    code = (
        f"import sys, rnn_control.ros.{module}\n"
        "bad = [m for m in ('torch', 'gymnasium', 'mujoco', 'onnx', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env, timeout=60)


def test_sim_bridge_imports_gymnasium_only_when_it_builds_the_env():
    pytest.importorskip("rclpy")
    code = "import sys, rnn_control.ros.sim_bridge_node\nassert 'gymnasium' not in sys.modules\n"
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT))
    )


def test_workspace_src_holds_this_package():
    link = ROOT / "ros2_ws" / "src" / "rnn_control"
    assert link.is_symlink() and link.resolve() == ROOT
    assert (link / "package.xml").is_file()


@pytest.mark.timeout(180)
def test_colcon_build_installs_the_executables_where_ros2_run_looks(tmp_path):
    colcon = shutil.which("colcon") or str(Path(sys.executable).parent / "colcon")
    if not Path(colcon).exists():
        pytest.skip("colcon is not installed")
    ws = ROOT / "ros2_ws"
    result = subprocess.run(
        [colcon, "--log-base", str(tmp_path / "log"), "build", "--base-paths", str(ws / "src"),
         "--build-base", str(tmp_path / "build"), "--install-base", str(tmp_path / "install")],
        cwd=tmp_path, capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Finished <<< rnn_control" in result.stdout
    prefix = tmp_path / "install" / "rnn_control"
    for exe in EXECUTABLES:
        script = prefix / "lib" / "rnn_control" / exe
        assert script.is_file() and os.access(script, os.X_OK), f"{script} missing"
        assert f"'{exe}'" in script.read_text()
    share = prefix / "share" / "rnn_control"
    assert (share / "package.xml").is_file()
    assert (share / "launch" / "policy.launch.py").is_file() and (
        share / "launch" / "sim_closed_loop.launch.py"
    ).is_file()
    assert (share / "config" / "policy_node.yaml").is_file()
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "rnn_control").is_file()
    site = next(prefix.glob("lib/python3*/site-packages"))
    assert (site / "rnn_control" / "ros" / "policy_node.py").is_file()
