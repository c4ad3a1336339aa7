"""Test fixtures: tiny random-weight models following the inference contract, exported to bundles.

``make_policy_bundle(tmp_path, cell="gru", ...)`` and ``make_dynamics_bundle(...)`` build the
model in the test itself (no training, no downloads) and return the bundle path. The stand-in
modules (:class:`TinyPolicy`, :class:`TinyDynamics`) are registered in the model registry under
test-only names so checkpoints of them can be exported with ``rnn-control export`` too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnn_control.contract.metadata import (
    SCHEMA_VERSION,
    ActionField,
    BundleMetadata,
    ObservationField,
)
from rnn_control.models import RecurrentCore, RunningNormalizer, register_model

State = tuple[Tensor, ...]


@register_model
class TinyPolicy(nn.Module):
    """Normaliser -> recurrent core -> linear head: the policy inference contract, nothing more."""

    def __init__(
        self,
        obs_dim: int = 3,
        act_dim: int = 1,
        hidden: int = 16,
        layers: int = 1,
        cell: str = "gru",
        nominal_dt: float = 0.02,
        seed: int = 0,
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.normalizer = RunningNormalizer(obs_dim)
        self.core = RecurrentCore(obs_dim, hidden, layers, cell, nominal_dt)
        self.head = nn.Linear(hidden, act_dim)
        with torch.no_grad():  # non-trivial statistics so normalisation matters
            self.normalizer.mean.uniform_(-0.5, 0.5)
            self.normalizer.var.uniform_(0.5, 2.0)
            self.head.weight.mul_(3.0)

    def act_inference(self, obs: Tensor, state: State, dt: Tensor | None = None) -> tuple[Tensor, State]:
        y, state = self.core.step(self.normalizer(obs), state, dt)
        return self.head(y), state


@register_model
class TinyDynamics(nn.Module):
    """Dynamics inference contract: (obs, act) -> next obs mean and std in raw units."""

    def __init__(
        self,
        obs_dim: int = 3,
        act_dim: int = 1,
        hidden: int = 16,
        layers: int = 1,
        cell: str = "gru",
        nominal_dt: float = 0.02,
        seed: int = 0,
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.normalizer = RunningNormalizer(obs_dim + act_dim)
        self.core = RecurrentCore(obs_dim + act_dim, hidden, layers, cell, nominal_dt)
        self.mean_head = nn.Linear(hidden, obs_dim)
        self.log_std_head = nn.Linear(hidden, obs_dim)

    def predict_inference(
        self, obs_act: Tensor, state: State, dt: Tensor | None = None
    ) -> tuple[Tensor, Tensor, State]:
        y, state = self.core.step(self.normalizer(obs_act), state, dt)
        obs = obs_act[:, : self.obs_dim]
        return obs + self.mean_head(y), torch.exp(self.log_std_head(y).clamp(-5, 2)), state


def policy_metadata(
    cell: str,
    obs_dim: int,
    act_dim: int,
    hidden: int,
    layers: int,
    control_period: float,
    observation: Sequence[ObservationField] | None = None,
    action: Sequence[ActionField] | None = None,
    low: float = -2.0,
    high: float = 2.0,
    kind: str = "policy",
    has_std: bool = False,
) -> BundleMetadata:
    observation = list(observation or [ObservationField(f"obs_{i}", f"vector/{i}") for i in range(obs_dim)])
    action = list(action or [ActionField(f"act_{i}", f"vector/{i}", low, high) for i in range(act_dim)])
    return BundleMetadata(
        schema_version=SCHEMA_VERSION,
        kind=kind,
        cell=cell,
        num_layers=layers,
        hidden_size=hidden,
        observation=observation,
        action=action,
        control_period=control_period,
        time_aware=cell == "tgru",
        has_std=has_std,
        version="test",
    )


def make_policy_bundle(
    tmp_path: Path,
    cell: str = "gru",
    obs_dim: int = 3,
    act_dim: int = 1,
    hidden: int = 16,
    layers: int = 1,
    observation: Sequence[ObservationField] | None = None,
    action: Sequence[ActionField] | None = None,
    control_period: float = 0.02,
    seed: int = 0,
    name: str | None = None,
    return_model: bool = False,
    **meta_kwargs: Any,
) -> Path | tuple[Path, TinyPolicy]:
    """Export a random :class:`TinyPolicy` to ``tmp_path/<name>.onnx`` and return the path."""
    from rnn_control.export.onnx_graph import export_graph

    model = TinyPolicy(obs_dim, act_dim, hidden, layers, cell, control_period, seed).eval()
    meta = policy_metadata(
        cell, obs_dim, act_dim, hidden, layers, control_period, observation, action, **meta_kwargs
    )
    path = export_graph(model, meta, Path(tmp_path) / f"{name or f'policy_{cell}'}.onnx")
    return (path, model) if return_model else path


def make_dynamics_bundle(
    tmp_path: Path,
    cell: str = "gru",
    obs_dim: int = 3,
    act_dim: int = 1,
    hidden: int = 16,
    layers: int = 1,
    control_period: float = 0.02,
    seed: int = 0,
    name: str | None = None,
    return_model: bool = False,
) -> Path | tuple[Path, TinyDynamics]:
    """Export a random :class:`TinyDynamics` (inputs obs+act, outputs mean and std)."""
    from rnn_control.export.onnx_graph import export_graph

    model = TinyDynamics(obs_dim, act_dim, hidden, layers, cell, control_period, seed).eval()
    observation = [ObservationField(f"obs_{i}", f"vector/{i}") for i in range(obs_dim)]
    observation += [ObservationField(f"cmd_{i}", f"last_action/{i}") for i in range(act_dim)]
    predicted = [ActionField(f"next_obs_{i}", f"vector/{i}", -math.inf, math.inf) for i in range(obs_dim)]
    meta = policy_metadata(
        cell,
        obs_dim + act_dim,
        obs_dim,
        hidden,
        layers,
        control_period,
        observation,
        predicted,
        kind="dynamics",
        has_std=True,
    )
    path = export_graph(model, meta, Path(tmp_path) / f"{name or f'dynamics_{cell}'}.onnx")
    return (path, model) if return_model else path


def torch_rollout(
    model: nn.Module, observations: Tensor, resets: Sequence[int] = (), dt: float | None = None
):
    """PyTorch reference: step ``model`` over ``observations [T, obs_dim]`` one tick at a time,
    zeroing the state at the indices in ``resets``. Returns outputs ``[T, out]`` and final state."""
    core: RecurrentCore = model.core
    state = core.initial_state(1)
    outs = []
    dt_t = None if dt is None else torch.full((1, 1), dt)
    with torch.no_grad():
        for t, obs in enumerate(observations):
            if t in resets:
                state = core.initial_state(1)
            if hasattr(model, "act_inference"):
                out, state = model.act_inference(obs.view(1, -1), state, dt_t)
            else:
                out, _, state = model.predict_inference(obs.view(1, -1), state, dt_t)
            outs.append(out[0])
    return torch.stack(outs), state


def space_dict(space) -> dict[str, Any]:
    """A Gymnasium space in the checkpoint-contract form."""
    if hasattr(space, "n"):
        return {"type": "discrete", "n": int(space.n)}
    return {"type": "box", "shape": list(space.shape), "low": space.low.tolist(), "high": space.high.tolist()}


def write_checkpoint(
    tmp_path: Path,
    kind: str = "policy",
    cell: str = "gru",
    hidden: int = 16,
    layers: int = 1,
    scenario: str = "pendulum_novel",
    overrides: dict[str, Any] | None = None,
    model_class: str | None = None,
    name: str | None = None,
) -> Path:
    """A checkpoint following the checkpoint contract, holding a random stand-in model sized for
    the scenario's env (observation and action spaces read from the real env)."""
    from rnn_control.envs import make_env
    from rnn_control.scenario import load_scenario
    from rnn_control.train.common.checkpoint import save_checkpoint

    sc = load_scenario(scenario, overrides)
    env = make_env(sc.env, seed=0)
    obs_dim = int(np.prod(env.observation_space.shape))
    act_dim = 1 if hasattr(env.action_space, "n") else int(np.prod(env.action_space.shape))
    control_period = float(getattr(env.unwrapped, "dt", 0.05))
    spaces = {"observation": space_dict(env.observation_space), "action": space_dict(env.action_space)}
    env.close()
    cls_name = model_class or ("TinyPolicy" if kind == "policy" else "TinyDynamics")
    kwargs = dict(obs_dim=obs_dim, act_dim=act_dim, hidden=hidden, layers=layers, cell=cell,
                  nominal_dt=control_period)  # fmt: skip
    from rnn_control.models.registry import MODEL_CLASSES

    model = MODEL_CLASSES[cls_name](**kwargs)
    payload = {
        "kind": kind,
        "config": sc.to_dict(),
        "model_class": cls_name,
        "model_kwargs": kwargs,
        "model_state": model.state_dict(),
        "spaces": spaces,
        "control_period": control_period,
        "step": 0,
    }
    return save_checkpoint(Path(tmp_path) / f"{name or f'{kind}_{cell}'}.pt", payload)


@register_model
class NoisyPolicy(TinyPolicy):
    """A policy whose exported graph cannot match PyTorch (random noise): parity must fail."""

    def act_inference(self, obs: Tensor, state: State, dt: Tensor | None = None) -> tuple[Tensor, State]:
        action, state = super().act_inference(obs, state, dt)
        return action + torch.rand_like(action), state
