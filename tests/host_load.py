"""What else the host did during a timing run: CPU time stolen by the hypervisor (``steal`` in
/proc/stat) and the load average, printed beside a result so a reader can tell a quiet machine
from a busy one. On this project's VMs steal reached over a fifth of both cores at times, with
nothing else running inside the VM; a timing figure from such a window says little."""

from __future__ import annotations

import os
import time


def _cpu_jiffies() -> tuple[int, int]:
    """(total, steal) jiffies of all CPUs since boot; (0, 0) where /proc/stat is absent."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


class HostLoad:
    """Start it before a run; :meth:`line` afterwards says the steal share and the load."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.total0, self.steal0 = _cpu_jiffies()

    def steal_fraction(self) -> float:
        """The share of all CPUs' time stolen since the start (0 where unknown)."""
        total, steal = _cpu_jiffies()
        elapsed = total - self.total0
        return (steal - self.steal0) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """``host: steal 3.1% of the CPUs, load 1.20 over 31 s``."""
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        return (
            f"host: steal {100 * self.steal_fraction():.1f}% of the CPUs, load {load:.2f} "
            f"over {time.monotonic() - self.t0:.0f} s"
        )
