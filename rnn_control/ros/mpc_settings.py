"""The MPC node's parameters and configure checks.

The node takes every parameter of the policy node (:data:`rnn_control.ros.policy_settings.PARAMETERS`:
topics, command message, watchdog, fade-in, e-stop, real-time settings; read by the same
``read_settings``) plus :data:`MPC_PARAMETERS`. :func:`load_mpc_setup` loads the planning bundle and
checks, like the policy node's ``load_setup``, that the configured topics and command message can
carry its IO layout (sensor fields in, the planning section's commands out) and that the planner
settings fit the bundle; any problem is a :class:`ConfigureRefused` with the one line the node logs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rclpy.node import Node

from rnn_control.config import load_yaml
from rnn_control.contract.metadata import BundleMetadata
from rnn_control.errors import ConfigError, RnnControlError
from rnn_control.ros.parameters import parameter
from rnn_control.ros.policy_settings import (
    PARAMETERS as POLICY_PARAMETERS,
)
from rnn_control.ros.policy_settings import (
    ConfigureRefused,
    Settings,
    Setup,
    io_setup,
)
from rnn_control.runtime.mpc import MpcController, mpc_config_for
from rnn_control.runtime.planning import PlanningModel
from rnn_control.scenario import resolve_scenario

MPC_PARAMETERS: dict[str, tuple[Any, str]] = {
    "mpc_scenario": (
        "",
        "scenario name or YAML whose mpc: section (planner, cost) is used; '': the bundle's",
    ),
    "deadline": (-1.0, "fraction of the control period a solve may take (0: none); < 0: the mpc section's"),
    "seed": (-1, "planner noise seed; < 0: the mpc section's"),
    "planning_shards": (
        1,
        "split the candidates over this many concurrent rollout calls (one per core to use; the "
        "bundle's batch stays the same); 1: one call",
    ),
}
PARAMETERS: dict[str, tuple[Any, str]] = {
    **{k: v for k, v in POLICY_PARAMETERS.items() if k != "bundle"},
    "bundle": ("", "path of the planning bundle (rnn-control export CHECKPOINT --planning K H)"),
    **MPC_PARAMETERS,
}


@dataclasses.dataclass
class MpcSettings:
    """The MPC parameters, read at configure."""

    mpc_scenario: str
    deadline: float
    seed: int
    planning_shards: int = 1


def read_mpc_settings(node: Node) -> MpcSettings:
    """The MPC-only parameters (the rest: ``policy_settings.read_settings``)."""
    return MpcSettings(
        mpc_scenario=str(parameter(node, "mpc_scenario")),
        deadline=float(parameter(node, "deadline")),
        seed=int(parameter(node, "seed")),
        planning_shards=int(parameter(node, "planning_shards")),
    )


def command_view(meta: BundleMetadata) -> BundleMetadata:
    """A planning bundle seen as a controller: sensor fields in, the planning commands out (what the
    robot checks and the command writer compare)."""
    plan = meta.planning
    return dataclasses.replace(
        meta, kind="policy", observation=meta.observation[: meta.act_dim], action=list(plan.commands)
    )


def load_mpc_setup(s: Settings, m: MpcSettings) -> Setup:
    """Load the planning bundle, build the MPC controller and check the IO against the settings."""
    path = Path(s.bundle).expanduser()
    if not path.is_file():
        raise ConfigureRefused(f"bundle '{path}' does not exist")
    try:
        model = PlanningModel.load(
            path, providers=s.providers, intra_op_threads=s.intra_op_threads, shards=m.planning_shards
        )
    except RnnControlError as exc:
        raise ConfigureRefused(f"bundle '{path}' cannot be used for MPC: {exc}") from None
    except Exception as exc:  # onnxruntime: not an ONNX file, corrupt protobuf, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigureRefused(f"bundle '{path}' cannot be loaded: {first}") from None
    try:
        config = None
        if m.mpc_scenario:
            config = load_yaml(resolve_scenario(m.mpc_scenario)).get("mpc", {})
        cfg = mpc_config_for(model, config)
        if m.deadline >= 0:
            cfg.deadline = m.deadline
        if m.seed >= 0:
            cfg.seed = m.seed
        controller = MpcController(model, cfg)
    except ConfigError as exc:
        raise ConfigureRefused(f"mpc settings do not fit bundle '{path.name}': {exc}") from None
    view = command_view(model.metadata)
    return io_setup(s, view, controller)
