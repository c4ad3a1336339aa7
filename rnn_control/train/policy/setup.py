"""What every policy trainer shares: building the policy for an env, describing the env's
spaces, writing the checkpoint payload of the checkpoint contract, refusing checkpoints whose
observation space no longer matches the env, and reading step durations from a vector env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rnn_control.envs.spaces import describe_spaces
from rnn_control.envs.timing import control_period
from rnn_control.errors import CheckpointError, ConfigError
from rnn_control.models.policy import MlpActorCritic, RecurrentActorCritic
from rnn_control.scenario import Scenario


def check_observation_space(spaces: dict[str, Any], obs_space: gym.Space, where: str) -> None:
    """Refuse an env whose observation space differs from the one a checkpoint was trained on."""
    stored = spaces["observation"]
    now = describe_spaces(obs_space, gym.spaces.Discrete(1))["observation"]
    problems = []
    if stored["shape"] != now["shape"]:
        problems.append(f"shape {tuple(stored['shape'])} (checkpoint) != {tuple(now['shape'])} (env)")
    else:
        for key in ("low", "high"):
            a, b = np.asarray(stored[key]), np.asarray(now[key])
            if not np.array_equal(a, b):
                i = int(np.flatnonzero(a != b)[0])
                problems.append(f"{key}[{i}] {a[i]} (checkpoint) != {b[i]} (env)")
    if problems:
        raise CheckpointError(
            f"{where}: the environment's observation space changed since the checkpoint was written: "
            + "; ".join(problems)
            + ". Use the scenario the policy was trained with, or train a new policy."
        )


def policy_kwargs(scenario: Scenario, spaces: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Model class name and JSON-able constructor kwargs for a scenario and env spaces."""
    act = spaces["action"]
    m, p = scenario.model, scenario.policy
    kwargs: dict[str, Any] = {
        "obs_dim": spaces["observation"]["shape"][0],
        "act_dim": act["shape"][0] if act["type"] == "box" else act["n"],
        "action_type": act["type"],
        "action_low": act.get("low"),
        "action_high": act.get("high"),
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "head_hidden": list(p.head_hidden if p.head_hidden is not None else (m.head_hidden or [])),
        "init_log_std": p.init_log_std,
    }
    if p.critic_obs == "privileged":
        if "privileged_observation" not in spaces:
            raise ConfigError(
                "policy.critic_obs: privileged, but the env provides no privileged observation; "
                "list the privileged_obs wrapper first in env.wrappers"
            )
        kwargs["privileged_dim"] = spaces["privileged_observation"]["shape"][0]
    if p.architecture == "mlp":
        return MlpActorCritic.__name__, {**kwargs, "num_layers": max(m.num_layers, 2)}
    kwargs.update(cell=m.cell, nominal_dt=m.nominal_dt, shared_core=p.shared_core)
    return RecurrentActorCritic.__name__, kwargs


def build_policy(scenario: Scenario, spaces: dict[str, Any]) -> tuple[nn.Module, str, dict[str, Any]]:
    """A fresh policy for the scenario (returns model, class name, kwargs)."""
    name, kwargs = policy_kwargs(scenario, spaces)
    cls = MlpActorCritic if name == MlpActorCritic.__name__ else RecurrentActorCritic
    return cls(**kwargs), name, kwargs


def checkpoint_payload(
    scenario: Scenario,
    model: nn.Module,
    model_class: str,
    model_kwargs: dict[str, Any],
    spaces: dict[str, Any],
    env: gym.Env | None,
    step: int,
    **trainer_state: Any,
) -> dict[str, Any]:
    """A policy checkpoint following the project's checkpoint contract."""
    period = control_period(env) if env is not None else None
    return {
        "kind": "policy",
        "config": scenario.to_dict(),
        "model_class": model_class,
        "model_kwargs": model_kwargs,
        "model_state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "spaces": spaces,
        "control_period": period if period is not None else scenario.model.nominal_dt,
        "step": int(step),
        **trainer_state,
    }


def actor_initial_state(model: nn.Module, batch_size: int) -> tuple[torch.Tensor, ...]:
    """State that ``act_inference`` expects (actor core only; empty for an MLP)."""
    core = getattr(model, "core", None)
    return core.initial_state(batch_size) if core is not None else ()


def info_dt(info: dict[str, Any], n: int, default: float) -> np.ndarray:
    """Seconds each of a vector env's ``n`` envs last stepped (``info["dt"]`` where an env says,
    ``default`` elsewhere), ``float32 [n]``: the ``dt`` input of time-aware cells."""
    if "dt" in info:
        mask = info.get("_dt", np.ones(n, bool))
        return np.where(mask, info["dt"], default).astype(np.float32)
    return np.full(n, default, dtype=np.float32)
