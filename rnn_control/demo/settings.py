"""What a demo run does: the scenario, the training budget (full or ``--quick``), the closed loop."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# The demo on a robot: a planar 3-joint arm (sim/robots/arm3.xml, position mode + PD) reaching random
# targets, over JointState. Within the pendulum's time on 2 cores (BENCHMARKS.md "Demo on a robot");
# `--scenario pendulum_novel` is the vector-IO toy the demo started with.
DEFAULT_SCENARIO = "arm3_reach"

# A ~1-minute run: real training on a tiny budget, every stage exercised.
QUICK_OVERRIDES: dict[str, Any] = {
    "env": {"max_episode_steps": 100},  # 5 s episodes in the real-time closed loop
    "policy": {
        "total_steps": 2048,
        "rollout_steps": 128,
        "chunk_length": 32,
        "eval_every": 0,
        "eval_episodes": 2,
        "checkpoint_every": 1024,
    },
    "dynamics": {
        "train_episodes": 6,
        "heldout_episodes": 2,
        "total_updates": 40,
        "batch_size": 8,
        "checkpoint_every": 20,
        "log_every": 10,
        "eval_horizons": [10, 50],
    },
}


@dataclass
class DemoSettings:
    """Everything that changes a demo run's results (stored in ``demo.json`` of the run folder)."""

    scenario: str = DEFAULT_SCENARIO
    quick: bool = False
    # closed loop over ROS 2
    episodes: int = 5
    seed: int = 1000  # closed-loop and evaluation episodes k are reset with seed + k
    eval_episodes: int = 10  # in-process evaluation (and random policy)
    explain_window: int = 32
    explain_times: int = 64
    overrides: dict[str, Any] = field(default_factory=dict)  # merged over the scenario file

    @classmethod
    def make(
        cls, scenario: str = DEFAULT_SCENARIO, quick: bool = False, episodes: int | None = None
    ) -> DemoSettings:
        if quick:
            return cls(
                scenario=scenario,
                quick=True,
                episodes=episodes or 2,
                eval_episodes=2,
                explain_window=16,
                explain_times=16,
                overrides=json.loads(json.dumps(QUICK_OVERRIDES)),
            )
        return cls(scenario=scenario, episodes=episodes or 5)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def differences(self, other: dict[str, Any]) -> list[str]:
        mine = self.to_dict()
        return [
            f"{k}: {other.get(k)!r} (run folder) != {mine[k]!r} (now)"
            for k in mine
            if other.get(k) != mine[k]
        ]


def settings_path(run_dir: Path) -> Path:
    return run_dir / "demo.json"
