"""Training metrics: one CSV row per iteration (appended, so resumed runs continue the file)
and the same scalars in TensorBoard (``tensorboard --logdir RUN_DIR``)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

FIELDS = [
    "step",
    "iteration",
    "time_s",
    "train_return",
    "eval_return",
    "eval_std",
    "policy_loss",
    "value_loss",
    "entropy",
    "approx_kl",
    "lr",
    "steps_per_s",
]


class RunLog:
    """Append metrics rows to ``RUN_DIR/metrics.csv`` and TensorBoard."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / "metrics.csv"
        new = not self.csv_path.exists()
        self._file = open(self.csv_path, "a", newline="")  # noqa: SIM115 (kept open for the run)
        self._csv = csv.DictWriter(self._file, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            self._csv.writeheader()
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tb"))
            except ImportError:  # tensorboard is optional at run time
                self._tb = None

    def truncate_after(self, step: int) -> None:
        """Drop rows past ``step`` (a resumed run repeats them)."""
        self._file.close()
        rows = [r for r in csv.DictReader(self.csv_path.read_text().splitlines()) if float(r["step"]) <= step]
        with open(self.csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            w.writeheader()
            w.writerows(rows)
        self._file = open(self.csv_path, "a", newline="")  # noqa: SIM115 (kept open for the run)
        self._csv = csv.DictWriter(self._file, fieldnames=FIELDS, extrasaction="ignore")

    def log(self, row: dict[str, Any]) -> None:
        self._csv.writerow({k: ("" if v is None else v) for k, v in row.items()})
        self._file.flush()
        if self._tb is not None:
            for k, v in row.items():
                if k not in ("step", "iteration") and isinstance(v, (int, float)) and v is not None:
                    self._tb.add_scalar(k, v, row["step"])

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()
