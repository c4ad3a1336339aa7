"""Demo building blocks without training: run folder markers, ROS domain choice, clean process
shutdown, and the preflight checks that stop bad input before any long work."""

from __future__ import annotations

import json
import os
import socket
import sys
import textwrap
import time

import pytest

from rnn_control.cli import main as cli_main
from rnn_control.demo import preflight
from rnn_control.demo.processes import ProcessGroup
from rnn_control.demo.ros_domain import check_domain_id, discovery_port, pick_free_domain
from rnn_control.demo.run_folder import RunFolder
from rnn_control.demo.settings import DemoSettings, settings_path


def test_stage_marker_requires_its_outputs(tmp_path):
    run = RunFolder(tmp_path / "run")
    out = run.policy_checkpoint
    out.parent.mkdir(parents=True)
    out.write_bytes(b"x")
    run.mark_done("policy", [out], {"steps": 3}, 1.5)
    marker = run.completed("policy")
    assert marker["info"] == {"steps": 3} and marker["outputs"] == ["policy/checkpoint.pt"]
    assert not list(run.stages_dir.glob(".*.tmp"))  # atomic: no temp file left
    out.unlink()
    assert run.completed("policy") is None  # an output went missing: the stage runs again
    assert run.completed("export") is None


def _hold_port(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    return s


def test_busy_domain_is_detected_and_avoided():
    domain = pick_free_domain(rng=__import__("random").Random(7))
    with _hold_port(discovery_port(domain)):
        problem = check_domain_id(domain)
        assert problem and f"ROS domain {domain} already has 1 participant" in problem
        assert "--domain-id" in problem
        assert pick_free_domain(preferred=domain) != domain
        with pytest.raises(preflight.PreflightError, match="already has"):
            preflight.choose_domain(domain)
    assert check_domain_id(domain) is None
    assert "out of range" in check_domain_id(300)


def test_choose_domain_prefers_a_free_ros_domain_id(monkeypatch):
    free = pick_free_domain()
    monkeypatch.setenv("ROS_DOMAIN_ID", str(free))
    assert preflight.choose_domain(None)[0] == free
    with _hold_port(discovery_port(free)):
        d, why = preflight.choose_domain(None)
        assert d != free and "free one" in why


STUBBORN = """
import signal, sys, time
mode = sys.argv[sys.argv.index("--ros-args") + 1]
if mode in ("ignore_int", "ignore_both"):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
if mode == "ignore_both":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_process_group_escalates_sigint_sigterm_sigkill(tmp_path):
    (tmp_path / "stubborn_node.py").write_text(textwrap.dedent(STUBBORN))
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    group = ProcessGroup(env, tmp_path / "logs")
    nodes = [group.start(m, "stubborn_node", [m]) for m in ("polite", "ignore_int", "ignore_both")]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all("ready" in n.log_path.read_text() for n in nodes):
        time.sleep(0.05)
    how = group.stop(sigint_wait=1.0, sigterm_wait=1.0)
    assert "SIGINT" in how["polite"]
    assert "SIGTERM" in how["ignore_int"]
    assert how["ignore_both"].startswith("stopped by killed")
    assert not any(_alive(n.pid) for n in nodes)
    assert group.nodes == []


def test_preflight_rejects_bad_input_before_work(tmp_path, capsys):
    # unknown scenario: one line naming the shipped ones
    assert cli_main(["demo", "--quick", "--scenario", "no_such", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert (
        "scenario 'no_such' not found" in err
        and "pendulum_novel" in err
        and len(err.strip().splitlines()) == 1
    )
    assert not (tmp_path / "r").exists()  # nothing was started
    # unwritable run folder (below a file)
    (tmp_path / "afile").write_text("")
    assert cli_main(["demo", "--quick", "--run-dir", str(tmp_path / "afile" / "run")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    # a run folder from other settings
    run = tmp_path / "old"
    run.mkdir()
    settings_path(run).write_text(json.dumps(DemoSettings.make(quick=False).to_dict()))
    assert cli_main(["demo", "--quick", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "--fresh" in err


def test_missing_ros_installation_says_what_to_do(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "rclpy" else real(n, *a))
    with pytest.raises(preflight.PreflightError, match=r"pip install -e \.\[ros\]"):
        preflight.check_ros_installation()


def test_ros_installation_present_here():
    preflight.check_ros_installation()  # raises PreflightError where rclpy is missing (test above)


@pytest.mark.skipif(
    bool(preflight.ros_node_modules_present()), reason="the ROS nodes are not in this version"
)
def test_forced_busy_domain_is_refused_before_any_work(tmp_path, capsys):
    domain = pick_free_domain()
    run = tmp_path / "run"
    with _hold_port(discovery_port(domain)):
        assert cli_main(["demo", "--quick", "--run-dir", str(run), "--domain-id", str(domain)]) == 2
    err = capsys.readouterr().err
    assert f"ROS domain {domain} already has" in err and len(err.strip().splitlines()) == 1
    assert not (run / "stages").exists()  # nothing trained


def test_a_missing_part_is_unavailable_but_a_missing_dependency_is_raised(monkeypatch):
    import rnn_control.demo.stages as stages

    # the exporter itself is not there: this version has no export stage
    monkeypatch.setitem(sys.modules, "rnn_control.export.exporter", None)
    with pytest.raises(stages.StageUnavailable, match=r"exporter \(rnn_control.export.exporter\) is not in"):
        stages.export_bundles(None)
    # the exporter is there but one of its dependencies is not: a broken install, said as it is
    monkeypatch.delitem(sys.modules, "rnn_control.export.exporter")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModuleNotFoundError) as info:
        stages.export_bundles(None)
    assert info.value.name == "onnxruntime" and not isinstance(info.value, stages.StageUnavailable)
    # the rule itself: the module or a package above it is missing, nothing else
    missing = ModuleNotFoundError("No module named 'rnn_control.export'", name="rnn_control.export")
    unavailable = stages.missing_part(missing, "rnn_control.export.exporter", "x")
    assert isinstance(unavailable, stages.StageUnavailable)
    other = ModuleNotFoundError("No module named 'rnn_control.exp'", name="rnn_control.exp")
    with pytest.raises(ModuleNotFoundError):
        stages.missing_part(other, "rnn_control.export.exporter", "x")
