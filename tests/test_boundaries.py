"""Architecture boundaries: runtime/ and ros/ import neither torch nor gymnasium; only ros/
imports rclpy. Checked statically (every import statement) and dynamically (a fresh process)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "rnn_control"
HEAVY = {"torch", "gymnasium", "mujoco", "onnx", "tensorboard", "matplotlib"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("sub", ["runtime", "ros"])
def test_edge_packages_do_not_import_training_stack(sub):
    for path in (PKG / sub).rglob("*.py"):
        bad = _imports(path) & HEAVY
        assert not bad, f"{path.relative_to(PKG.parent)} imports {sorted(bad)}"


def test_only_ros_imports_rclpy():
    for path in PKG.rglob("*.py"):
        if (PKG / "ros") in path.parents:
            continue
        mods = _imports(path)
        assert not mods & {"rclpy", "rclpy_lifecycle"}, f"{path} imports rclpy outside rnn_control/ros"


def test_runtime_imports_in_a_fresh_process_without_torch():
    code = (
        "import sys, rnn_control.runtime\n"
        "bad = [m for m in ('torch', 'gymnasium', 'rclpy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PKG.parent)
