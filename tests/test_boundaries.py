"""Architecture boundaries: the leaves (scenario/, contract/, config, errors, atomic) import only
the standard library, yaml and numpy; runtime/ and ros/ import neither torch nor gymnasium; only
ros/ imports rclpy; only train/common/distributed.py imports torch.distributed. Checked statically
(every import statement) and dynamically (fresh processes that start the nodes). The layer order
itself is tests/test_architecture.py."""

from __future__ import annotations

import ast
import os
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


LEAVES = ["scenario", "contract", "config.py", "errors.py", "atomic.py"]
LEAF_ALLOWED = {"rnn_control", "yaml", "numpy"}


@pytest.mark.parametrize("leaf", LEAVES)
def test_leaves_import_only_the_standard_library_yaml_and_numpy(leaf):
    paths = [PKG / leaf] if leaf.endswith(".py") else sorted((PKG / leaf).rglob("*.py"))
    assert paths
    for path in paths:
        bad = {m for m in _imports(path) if m not in sys.stdlib_module_names} - LEAF_ALLOWED
        assert not bad, f"{path.relative_to(PKG.parent)} imports {sorted(bad)}"


def test_loading_a_scenario_imports_no_training_or_runtime_stack():
    code = (
        "import sys\n"
        "from rnn_control.scenario import load_scenario, available_scenarios\n"
        "for name in available_scenarios(): load_scenario(name)\n"
        "import rnn_control.contract\n"
        "bad = [m for m in ('torch', 'gymnasium', 'onnxruntime', 'rclpy', 'mujoco') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PKG.parent)


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


def _full_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return names


def test_only_the_distributed_module_talks_to_torch_distributed():
    """Trainers call the group's methods (no-ops for one process); the collectives, the launch
    variables and the error handling of a lost rank live in one module."""
    home = PKG / "train" / "common" / "distributed.py"
    assert "torch.distributed" in _full_imports(home)
    for path in PKG.rglob("*.py"):
        if path == home:
            continue
        bad = {m for m in _full_imports(path) if m.split(".")[:2] == ["torch", "distributed"]}
        assert not bad, f"{path.relative_to(PKG.parent)} imports {sorted(bad)}: go through {home.name}"


def test_runtime_imports_in_a_fresh_process_without_torch():
    code = (
        "import sys, rnn_control.runtime\n"
        "bad = [m for m in ('torch', 'gymnasium', 'rclpy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PKG.parent)


@pytest.mark.ros
def test_starting_the_sim_bridge_and_the_policy_node_imports_no_torch(tmp_path):
    """A fresh process starts the sim bridge on a shipped scenario (env built, publishers up) and a
    policy node on a bundle (configured and active): neither pulls in torch."""
    from tests.bundles import make_policy_bundle

    bundle = make_policy_bundle(tmp_path)
    code = f"""
import sys
import rclpy
from rclpy.parameter import Parameter
from rnn_control.ros.policy_node import PolicyNode
from rnn_control.ros.sim_bridge_node import SimBridgeNode

rclpy.init()
bridge = SimBridgeNode(parameter_overrides=[Parameter("scenario", value="pendulum_novel")])
policy = PolicyNode(parameter_overrides=[Parameter("bundle", value={str(bundle)!r}),
                                         Parameter("autostart", value=True)])
assert policy.active, "policy node did not activate"
bad = [m for m in ("torch", "tensorboard", "matplotlib") if m in sys.modules]
assert not bad, f"starting the nodes imported {{bad}}"
policy.destroy_node()
bridge.destroy_node()
rclpy.shutdown()
"""
    env = {**os.environ, "PYTHONPATH": str(PKG.parent)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
