"""Scenarios: one YAML file describes an environment, a model and how to train it.

Scenario files live in the repository's ``sim/`` folder (installed to
``share/rnn_control/sim``). Anywhere a scenario is expected, give either a path to a YAML file
or the bare name of a shipped scenario (``pendulum_novel`` for ``sim/pendulum_novel.yaml``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnn_control.config import from_dict, load_yaml, to_dict
from rnn_control.contract.io_layout import IOLayout
from rnn_control.errors import ConfigError
from rnn_control.scenario.bag import BagConfig
from rnn_control.scenario.dynamics import DynamicsConfig
from rnn_control.scenario.env import EnvConfig
from rnn_control.scenario.model import ModelConfig
from rnn_control.scenario.mpc import MpcConfig
from rnn_control.scenario.policy import PolicyConfig


@dataclass
class Scenario:
    """A whole scenario file. Unknown keys anywhere are errors."""

    name: str = ""
    description: str = ""
    seed: int = 0
    env: EnvConfig = field(default_factory=EnvConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    dynamics: DynamicsConfig = field(default_factory=DynamicsConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    # Deployment IO layout: overrides of observation/action names, units, message fields, safe
    # values and slew limits, baked into the exported bundle (see contract.io_layout.IOLayout).
    io: IOLayout = field(default_factory=IOLayout)
    # Learning from rosbag2 recordings: topics and fields -> observations and commands (see
    # scenario.bag.BagConfig); empty: the data comes from the env.
    bag: BagConfig = field(default_factory=BagConfig)
    # Model-predictive control with the learned dynamics: planner and cost (scenario.mpc.MpcConfig).
    mpc: MpcConfig = field(default_factory=MpcConfig)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def scenario_dirs() -> list[Path]:
    """Folders searched for scenarios given by name: the repo's ``sim/``, the installed copy, and
    ``share/rnn_control/sim`` under every prefix of a sourced ROS workspace (``AMENT_PREFIX_PATH``,
    what ament_index searches)."""
    dirs = [Path(__file__).resolve().parents[2] / "sim", Path(sys.prefix) / "share" / "rnn_control" / "sim"]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            dirs.append(Path(prefix) / "share" / "rnn_control" / "sim")
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def available_scenarios() -> list[str]:
    names = {p.stem for d in scenario_dirs() for p in d.glob("*.yaml")}
    return sorted(names)


def resolve_scenario(name_or_path: str | Path) -> Path:
    """Path of a scenario given as a file path or a shipped scenario name."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    for d in scenario_dirs():
        cand = d / f"{p.stem if p.suffix == '.yaml' else p.name}.yaml"
        if cand.is_file():
            return cand
    raise ConfigError(
        f"scenario '{name_or_path}' not found (not a file, not a shipped scenario); "
        f"available: {', '.join(available_scenarios()) or 'none'}"
    )


def load_scenario(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario; ``overrides`` is merged (deeply) over the file's content."""
    path = resolve_scenario(name_or_path)
    data = load_yaml(path)
    if overrides:
        data = deep_merge(data, overrides)
    data.setdefault("name", path.stem)
    try:
        scenario = from_dict(Scenario, data, where=path.name)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"{path.name}: {exc}") from exc
    robot = scenario.env.robot
    if robot is not None and robot.scenario_dir is None:  # relative mjcf paths start here
        robot.scenario_dir = str(path.resolve().parent)
    return scenario


def scenario_from_dict(data: dict[str, Any]) -> Scenario:
    """Rebuild a scenario stored in a checkpoint or bundle."""
    return from_dict(Scenario, data, where="stored scenario")


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
