"""Training metrics of a run: CSV rows (appended, so a resumed run continues the file) and the
same scalars in TensorBoard (``tensorboard --logdir RUN_DIR``). Each trainer names its columns."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class RunLog:
    """Append metrics rows to ``RUN_DIR/metrics.csv`` and TensorBoard ``RUN_DIR/tb``.

    ``fields`` are the CSV columns (the first one is the step; other keys of a row go to
    TensorBoard only). ``resume_from``: the step a resumed run continues from; rows and events
    past it (written after that checkpoint by the interrupted run) are dropped.
    """

    def __init__(
        self,
        run_dir: str | Path,
        fields: Sequence[str],
        tensorboard: bool = True,
        resume_from: int | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.fields = list(fields)
        self.csv_path = self.run_dir / "metrics.csv"
        if resume_from is not None and self.csv_path.exists():
            self._truncate_after(resume_from)
        new = not self.csv_path.exists()
        self._file = open(self.csv_path, "a", newline="")  # noqa: SIM115 (kept open for the run)
        self._csv = csv.DictWriter(self._file, fieldnames=self.fields, extrasaction="ignore")
        if new:
            self._csv.writeheader()
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                purge = None if resume_from is None else resume_from + 1  # step S itself was logged
                self._tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=purge)
            except ImportError:  # tensorboard is optional at run time
                self._tb = None

    def _truncate_after(self, step: int) -> None:
        step_key = self.fields[0]
        rows = [
            r
            for r in csv.DictReader(self.csv_path.read_text().splitlines())
            if r.get(step_key) not in (None, "") and float(r[step_key]) <= step
        ]
        with open(self.csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    def log(self, row: dict[str, Any]) -> None:
        """One row: the CSV columns it has (others left empty) and every number in TensorBoard."""
        self._csv.writerow({k: ("" if v is None else v) for k, v in row.items()})
        self._file.flush()
        if self._tb is not None:
            step = row[self.fields[0]]
            for k, v in row.items():
                if k not in ("step", "iteration") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self._tb.add_scalar(k, v, step)

    def close(self) -> None:
        """Close the CSV file and flush TensorBoard."""
        self._file.close()
        if self._tb is not None:
            self._tb.close()


class NullLog:
    """What ranks other than 0 log to: nothing (rank 0 alone writes the run's metrics)."""

    csv_path = None

    def log(self, row: dict[str, Any]) -> None:
        """Drop ``row``."""

    def close(self) -> None:
        """Nothing to close."""
