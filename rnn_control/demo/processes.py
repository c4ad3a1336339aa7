"""Start node processes and stop them cleanly: SIGINT, then SIGTERM, then SIGKILL.

Each node runs in its own session (so a Ctrl-C in the terminal reaches the demo, which then
shuts the nodes down in order instead of all at once) and, on Linux, gets SIGTERM if the demo
process itself dies (``PR_SET_PDEATHSIG``), so no node outlives the demo.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class NodeProcess:
    name: str
    popen: subprocess.Popen
    log_path: Path
    log_file: IO = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_for_log(self, text: str, timeout: float) -> bool:
        """Wait until the node's log contains ``text`` (False on timeout or if it exited)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            try:
                if text in self.log_path.read_text(errors="replace"):
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class ProcessGroup:
    """Node processes started by the demo; ``stop()`` (or leaving the ``with`` block) ends them all."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.nodes: list[NodeProcess] = []

    def start(self, name: str, module: str, ros_args: list[str]) -> NodeProcess:
        """``python -m <module> --ros-args <ros_args>`` with output to ``<log_dir>/<name>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log_file = open(log_path, "w")  # noqa: SIM115  (closed in stop())
        argv = [sys.executable, "-u", "-m", module, "--ros-args", *ros_args]
        popen = subprocess.Popen(
            argv,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        node = NodeProcess(name, popen, log_path, log_file)
        self.nodes.append(node)
        return node

    def stop(self, sigint_wait: float = 5.0, sigterm_wait: float = 3.0) -> dict[str, str]:
        """Stop every node (reverse start order): SIGINT, SIGTERM after ``sigint_wait`` s, then
        SIGKILL. Returns how each one ended (``exited 0``, ``SIGTERM``, ``killed``...)."""
        how: dict[str, str] = {}
        pending = [n for n in reversed(self.nodes) if n.alive()]
        for n in self.nodes:
            if not n.alive():
                how[n.name] = f"exited {n.popen.returncode}"
        for sig, wait, label in (
            (signal.SIGINT, sigint_wait, "SIGINT"),
            (signal.SIGTERM, sigterm_wait, "SIGTERM"),
            (signal.SIGKILL, 5.0, "killed"),
        ):
            for n in pending:
                _signal_group(n.popen, sig)
            deadline = time.monotonic() + wait
            while pending and time.monotonic() < deadline:
                for n in list(pending):
                    if not n.alive():
                        how[n.name] = f"stopped by {label} (exit {n.popen.returncode})"
                        pending.remove(n)
                time.sleep(0.05)
            if not pending:
                break
        for n in self.nodes:
            n.popen.poll()
            n.log_file.close()
        self.nodes = [n for n in self.nodes if n.alive()]  # empty unless SIGKILL failed
        return how

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(popen: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)  # the node and anything it started
