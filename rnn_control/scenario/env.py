"""``env:`` section of a scenario: which Gymnasium env, how many copies, which wrappers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rnn_control.config import from_dict
from rnn_control.errors import ConfigError
from rnn_control.scenario.robot import JOINT_SPACE_ID, RobotConfig
from rnn_control.scenario.wrappers import WRAPPER_PARAMS


@dataclass
class EnvConfig:
    """``env:`` section of a scenario YAML.

    ``wrappers`` is an ordered list of one-key mappings, applied innermost first::

        wrappers:
          - mask_velocity: {}
          - obs_noise: {std: 0.01}

    The schema is checked when the scenario loads; that ``id`` names an installed Gymnasium env
    is checked where envs are built (``rnn_control.envs.check_env_config``).

    ``robot``: your own robot from an MJCF file (:class:`~.robot.RobotConfig`); the env is then a
    joint-space env built from it, and ``id`` is ``rnn_control/JointSpace-v0`` (filled in when
    left out).

    ``vectorization``: ``sync`` (the default: every env stepped in the training process) or
    ``async`` (each env in a worker process, gymnasium's AsyncVectorEnv; the same results for a
    given seed, tested bit for bit, but slower on 2 cores: see BENCHMARKS.md "Scaling out").
    """

    id: str = "Pendulum-v1"
    kwargs: dict[str, Any] = field(default_factory=dict)
    num_envs: int = 8
    max_episode_steps: int | None = None
    wrappers: list[dict[str, Any]] = field(default_factory=list)
    vectorization: Literal["sync", "async"] = "sync"
    robot: RobotConfig | None = None

    def validate(self) -> None:
        if self.robot is not None:
            if self.id == "Pendulum-v1":  # the default: not given
                self.id = JOINT_SPACE_ID
            if self.id != JOINT_SPACE_ID:
                raise ConfigError(
                    f"id: a robot section builds the joint-space env {JOINT_SPACE_ID}; leave id out "
                    f"(got '{self.id}')"
                )
        if not self.id:
            raise ConfigError("id: must name a Gymnasium env, e.g. Pendulum-v1")
        if self.num_envs < 1:
            raise ConfigError(f"num_envs: must be >= 1, got {self.num_envs}")
        for i, item in enumerate(self.wrappers):
            if not isinstance(item, dict) or len(item) != 1:
                raise ConfigError(f"wrappers[{i}]: expected a one-key mapping like '- mask_velocity: {{}}'")
            name = next(iter(item))
            if name not in WRAPPER_PARAMS:
                choices = ", ".join(sorted(WRAPPER_PARAMS))
                raise ConfigError(f"wrappers[{i}]: unknown wrapper '{name}'; choose one of: {choices}")
            from_dict(WRAPPER_PARAMS[name], item[name] or {}, f"wrappers[{i}].{name}")
