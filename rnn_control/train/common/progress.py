"""Progress reporting for every trainer and collector.

On a terminal it is a tqdm bar. Anywhere else (CI, ``rnn-control demo > log 2>&1``) a bar would
write every redraw, each a carriage-return line of the log; there it prints one plain line each
time another tenth (``every``) of the work is done, and one at the end::

    ppo pendulum_novel:  40% (4096/10240 step, 12 s) return -812.3 eval -700.1

Output goes to stderr (as tqdm's does), so a command's results on stdout stay clean; whether
that stream is a terminal decides between the two forms.
"""

from __future__ import annotations

import math
import sys
import time
from types import TracebackType
from typing import Any, TextIO


def is_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is an interactive terminal (False for files, pipes and closed streams)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """Progress over ``total`` units: ``update(n, **postfix)``, then ``close()`` (or ``with``).

    ``enabled=False`` makes every call a no-op. ``initial`` is the work already done (a resumed
    run). ``leave=False`` clears the terminal bar when closed; plain lines always stay.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str = "step",
        initial: int = 0,
        enabled: bool = True,
        leave: bool = True,
        every: float = 0.1,
        stream: TextIO | None = None,
    ) -> None:
        self.total, self.desc, self.unit = max(0, int(total)), desc, unit
        self.n = int(initial)
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.postfix: dict[str, Any] = {}
        self._bar: Any = None
        self._chunk = max(1, math.ceil(every * self.total))
        self._next_line = (self.n // self._chunk + 1) * self._chunk
        self._printed = self.n
        self._t0 = time.perf_counter()
        if enabled and is_terminal(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total,
                initial=self.n,
                desc=desc,
                unit=unit,
                leave=leave,
                dynamic_ncols=True,
                file=self.stream,
            )

    @property
    def is_bar(self) -> bool:
        """True when a terminal bar is drawn (False: plain lines, or disabled)."""
        return self._bar is not None

    def update(self, n: int = 1, **postfix: Any) -> None:
        """``n`` more units done; ``postfix`` (e.g. ``loss="0.12"``) is shown from now on."""
        if not self.enabled:
            return
        self.n += n
        if postfix:
            self.postfix.update(postfix)
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix(self.postfix, refresh=False)
            self._bar.update(n)
        elif self.n >= self._next_line:
            self._line()
            self._next_line = (self.n // self._chunk + 1) * self._chunk

    def close(self) -> None:
        """End the bar, or print the final line if the last one is out of date."""
        if not self.enabled:
            return
        self.enabled = False
        if self._bar is not None:
            self._bar.close()
        elif self.n > self._printed:
            self._line()

    def _line(self) -> None:
        pct = int(100 * self.n / self.total) if self.total else 100
        post = "".join(f" {k} {v}" for k, v in self.postfix.items())
        elapsed = time.perf_counter() - self._t0
        print(
            f"{self.desc}: {pct:3d}% ({self.n}/{self.total} {self.unit}, {elapsed:.0f} s){post}",
            file=self.stream,
            flush=True,
        )
        self._printed = self.n

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
