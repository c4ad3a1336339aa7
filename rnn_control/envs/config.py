"""Environment section of a scenario: which Gymnasium env, how many copies, which wrappers."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

from rnn_control.errors import ConfigError


@dataclass
class EnvConfig:
    """``env:`` section of a scenario YAML.

    ``wrappers`` is an ordered list of one-key mappings, applied innermost first::

        wrappers:
          - mask_velocity: {}
          - obs_noise: {std: 0.01}
    """

    id: str = "Pendulum-v1"
    kwargs: dict[str, Any] = field(default_factory=dict)
    num_envs: int = 8
    max_episode_steps: int | None = None
    wrappers: list[dict[str, Any]] = field(default_factory=list)
    vectorization: Literal["sync", "async"] = "sync"

    def validate(self) -> None:
        from rnn_control.envs.registry import WRAPPERS, ensure_registered

        ensure_registered()
        import gymnasium as gym

        if self.id not in gym.registry:
            close = difflib.get_close_matches(self.id, list(gym.registry), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"id: unknown Gymnasium env '{self.id}'{hint}")
        if self.num_envs < 1:
            raise ConfigError(f"num_envs: must be >= 1, got {self.num_envs}")
        for i, item in enumerate(self.wrappers):
            if not isinstance(item, dict) or len(item) != 1:
                raise ConfigError(f"wrappers[{i}]: expected a one-key mapping like '- mask_velocity: {{}}'")
            name = next(iter(item))
            if name not in WRAPPERS:
                raise ConfigError(
                    f"wrappers[{i}]: unknown wrapper '{name}'; choose one of: {', '.join(sorted(WRAPPERS))}"
                )
            WRAPPERS[name].parse(item[name], f"wrappers[{i}].{name}")
