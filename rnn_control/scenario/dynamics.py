"""``dynamics:`` section of a scenario: data collection and BPTT training of a dynamics model.

Example (``sim/pendulum_novel.yaml``)::

    dynamics:
      model_type: recurrent        # or window_mlp (the feed-forward baseline)
      exploration: mixed           # random | pink | ou | scripted | mixed
      train_episodes: 96
      heldout_episodes: 16
      total_updates: 1500
      batch_size: 32
      chunk_length: 48
      burn_in: 16
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rnn_control.errors import ConfigError

Exploration = Literal["random", "pink", "ou", "scripted", "mixed"]
EXPLORATIONS: tuple[str, ...] = ("random", "pink", "ou", "scripted", "mixed")

# Keys that only say how long / how verbosely to train: changing them does not invalidate a
# checkpoint (``--updates 3000`` continues a run that stopped at 1500).
RUN_LENGTH_KEYS: tuple[str, ...] = (
    "total_updates",
    "checkpoint_every",
    "log_every",
    "num_threads",
    "device",
    "eval_horizons",
    "monitor_window",
    "monitor_false_alarms_per_hour",
)


@dataclass
class DynamicsConfig:
    """Settings for ``rnn-control train-dynamics`` (owned by the dynamics trainer)."""

    # Which model: the recurrent one (core from the scenario's ``model:`` section) or the
    # feed-forward baseline that sees the last ``window`` observations+actions.
    model_type: Literal["recurrent", "window_mlp"] = "recurrent"
    window: int = 8
    mlp_hidden: list[int] = field(default_factory=lambda: [128, 128])
    # > 1: an ensemble of that many recurrent models trained side by side in one batched pass,
    # each on its own batch_size windows (uncertainty for planning: mpc.cost.disagreement).
    ensemble: int = 1

    # Data: episodes collected with an exploration policy, split by episode.
    exploration: Exploration = "mixed"
    train_episodes: int = 64
    heldout_episodes: int = 16
    noise_scale: float = 0.5  # std of coloured noise, as a fraction of the action half-range
    pink_beta: float = 1.0  # exponent of the 1/f^beta spectrum (0: white, 1: pink, 2: red)
    ou_theta: float = 0.15  # OU mean reversion per step

    # Truncated BPTT.
    total_updates: int = 2000
    batch_size: int = 32
    chunk_length: int = 48  # steps that carry a loss and a gradient
    burn_in: int = 16  # steps before each chunk that only warm the state (no gradient, no loss)
    # Open-loop (multi-step) loss: after the burn-in, also predict this many steps feeding the
    # model its own predictions, with BPTT through them (0: teacher forcing only).
    open_loop_steps: int = 0
    lr: float = 1e-3
    max_grad_norm: float = 1.0
    loss: Literal["nll", "mse"] = "nll"
    log_std_min: float = -6.0
    log_std_max: float = 1.0

    # Bookkeeping.
    checkpoint_every: int = 250
    log_every: int = 25
    num_threads: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: a CUDA GPU where torch sees one, else the CPU
    eval_horizons: list[int] = field(default_factory=lambda: [10, 50, 100])
    eval_history: int = 32  # steps of true history that warm the state before an open-loop rollout
    # The dynamics monitor's alarm, calibrated on the held-out episodes after training and stored
    # in the bundle: predictions averaged, and the false-alarm rate the threshold is set for.
    monitor_window: int = 10
    monitor_false_alarms_per_hour: float = 1.0

    def validate(self) -> None:
        positive = (
            "window", "ensemble", "train_episodes", "total_updates", "batch_size", "chunk_length",
            "checkpoint_every", "log_every", "num_threads", "eval_history",
        )  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.heldout_episodes < 0:
            raise ConfigError(f"heldout_episodes: must be >= 0, got {self.heldout_episodes}")
        if self.open_loop_steps < 0 or self.open_loop_steps > self.chunk_length:
            raise ConfigError(
                f"open_loop_steps: must be in 0..chunk_length ({self.chunk_length}), "
                f"got {self.open_loop_steps}"
            )
        if self.burn_in < 0:
            raise ConfigError(f"burn_in: must be >= 0, got {self.burn_in}")
        if self.lr <= 0 or self.max_grad_norm <= 0:
            raise ConfigError("lr and max_grad_norm: must be > 0")
        if self.log_std_min >= self.log_std_max:
            raise ConfigError(
                f"log_std_min: must be < log_std_max ({self.log_std_max}), got {self.log_std_min}"
            )
        if not self.eval_horizons or min(self.eval_horizons) < 1:
            raise ConfigError(f"eval_horizons: need positive step counts, got {self.eval_horizons}")
        if self.monitor_window < 1 or not self.monitor_false_alarms_per_hour > 0:
            raise ConfigError("monitor_window must be >= 1 and monitor_false_alarms_per_hour > 0")
        if self.noise_scale < 0:
            raise ConfigError(f"noise_scale: must be >= 0, got {self.noise_scale}")
