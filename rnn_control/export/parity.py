"""Parity of an exported bundle: onnxruntime against PyTorch, in closed loop in the training env.

The PyTorch model drives the environment (policies act; dynamics models get random commands),
and both the model and the bundle see the same observations, one tick at a time, with their own
recurrent state. Episodes end naturally and once more by force in the middle of the rollout, so
the reset path is covered. Figures: max abs difference of outputs and of state over the rollout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnn_control.runtime.stepper import Stepper


@dataclass
class Rollout:
    """What a parity rollout saw, for replaying through other bundles (fp16/int8 variants)."""

    inputs: list[np.ndarray] = field(default_factory=list)
    resets: list[int] = field(default_factory=list)
    dts: list[float] = field(default_factory=list)


@dataclass
class _Diffs:
    """Max abs differences between the PyTorch model and the bundle, step by step."""

    output: float = 0.0
    std: float = 0.0
    state: float = 0.0

    def step(self, model: nn.Module, stepper: Stepper, kind: str, x_model: np.ndarray,
             x_bundle: np.ndarray, state: Any, dt: float, time_aware: bool) -> tuple[torch.Tensor, Any]:
        """One step of both on the same input; returns the model's output and its new state."""
        xt = torch.from_numpy(x_model).view(1, -1)
        dt_t = torch.full((1, 1), dt) if time_aware else None
        std_t = None
        if kind == "policy":
            out_t, state = model.act_inference(xt, state, dt_t)
        else:
            out_t, std_t, state = model.predict_inference(xt, state, dt_t)
        out = stepper.step(x_bundle, dt)
        self.output = max(self.output, float(np.abs(out - out_t[0].numpy()).max()))
        if std_t is not None and stepper.last_std is not None:
            self.std = max(self.std, float(np.abs(stepper.last_std - std_t[0].numpy()).max()))
        for got, want in zip(stepper.state, state):
            self.state = max(self.state, float(np.abs(got - want.numpy()).max()))
        return out_t, state


def closed_loop_parity(
    model: nn.Module,
    bundle: str | Path,
    env_cfg: Any,
    steps: int = 1000,
    seed: int = 0,
    progress: bool = False,
    command_affine: tuple[list, list] | None = None,
) -> tuple[dict[str, Any], Rollout]:
    """Step ``model`` and ``bundle`` side by side for ``steps`` env steps; returns figures and the
    inputs. A dynamics bundle gets commands (``offset + scale * env action`` with
    ``command_affine``), its model the env actions."""
    affine = None if command_affine is None else [np.asarray(v, dtype=np.float32) for v in command_affine]
    from tqdm import tqdm

    from rnn_control.envs import make_env

    policy = Stepper.load(bundle, providers="cpu")
    meta = policy.metadata
    env = make_env(env_cfg, seed=seed)
    rng = np.random.default_rng(seed)
    core = getattr(model, "core", None)
    time_aware = bool(core is not None and core.time_aware)
    dt_default = float(meta.control_period)
    rollout = Rollout()
    state = _initial_state(core)
    obs, info = env.reset(seed=seed)
    diffs = _Diffs()
    episodes = 1
    with torch.no_grad():
        for t in tqdm(range(steps), desc="parity rollout", unit="step", disable=not progress, leave=False):
            # Seconds since the previous observation: a dt_jitter env reports it in info["dt"].
            dt = float(info.get("dt", dt_default))
            x = np.asarray(obs, dtype=np.float32).reshape(-1)
            x_bundle = x
            if meta.kind == "dynamics":
                command = env.action_space.sample()
                action = np.asarray(command, dtype=np.float32).reshape(-1)
                x = np.concatenate([x, action])  # the model: env actions
                sent = action if affine is None else affine[1] + affine[0] * action
                x_bundle = np.concatenate([x_bundle, np.asarray(sent, dtype=np.float32)])  # commands
            out_t, state = diffs.step(model, policy, meta.kind, x, x_bundle, state, dt, time_aware)
            if meta.kind == "policy":
                command = _to_env_action(out_t[0].numpy(), env.action_space)
            rollout.inputs.append(x_bundle)
            rollout.dts.append(dt)
            obs, _, terminated, truncated, info = env.step(command)
            if terminated or truncated or t == steps // 2 - 1:
                obs, info = env.reset(seed=int(rng.integers(2**31)))
                state = _initial_state(core)
                policy.reset()
                rollout.resets.append(t + 1)
                episodes += 1
    env.close()
    figures = {
        "steps": steps,
        "episodes": episodes,
        "max_abs_diff_output": diffs.output,
        "max_abs_diff_state": diffs.state,
        "env": env_cfg.id,
        "seed": seed,
    }
    if meta.kind == "dynamics":
        figures["max_abs_diff_std"] = diffs.std
    return figures, rollout


def recorded_parity(
    model: nn.Module, bundle: str | Path, data: dict[str, Any], steps: int = 1000
) -> tuple[dict[str, Any], Rollout]:
    """Step ``model`` and ``bundle`` side by side over recorded inputs (a bag-trained model has
    no env): ``data["inputs"] [N, in_dim]`` with the state reset at ``data["resets"]``."""
    policy = Stepper.load(bundle, providers="cpu")
    meta = policy.metadata
    core = getattr(model, "core", None)
    time_aware = bool(core is not None and core.time_aware)
    dt = float(meta.control_period)
    inputs = np.asarray(data["inputs"], dtype=np.float32)[:steps]
    resets = {int(r) for r in data.get("resets", [])}
    rollout = Rollout()
    state = _initial_state(core)
    diffs = _Diffs()
    with torch.no_grad():
        for t, x in enumerate(inputs):
            if t in resets and t > 0:
                state = _initial_state(core)
                policy.reset()
                rollout.resets.append(t)
            _, state = diffs.step(model, policy, meta.kind, x, x, state, dt, time_aware)
            rollout.inputs.append(x)
            rollout.dts.append(dt)
    figures: dict[str, Any] = {
        "steps": len(inputs),
        "episodes": len(rollout.resets) + 1,
        "max_abs_diff_output": diffs.output,
        "max_abs_diff_state": diffs.state,
        "env": "recorded bag inputs",
    }
    if meta.kind == "dynamics":
        figures["max_abs_diff_std"] = diffs.std
    return figures, rollout


def replay_parity(reference: str | Path, variant: str | Path, rollout: Rollout) -> dict[str, Any]:
    """Open-loop replay of a recorded rollout through two bundles: max abs output/state difference."""
    ref, var = Stepper.load(reference, providers="cpu"), Stepper.load(variant, providers="cpu")
    resets = set(rollout.resets)
    max_out = max_state = 0.0
    scale = 0.0
    for t, (x, dt) in enumerate(zip(rollout.inputs, rollout.dts)):
        if t in resets:
            ref.reset()
            var.reset()
        a = ref.step(x, dt)
        b = var.step(x, dt)
        scale = max(scale, float(np.abs(a).max()))
        max_out = max(max_out, float(np.abs(a - b).max()))
        for s, v in zip(ref.state, var.state):
            max_state = max(max_state, float(np.abs(s - v).max()))
    return {
        "steps": len(rollout.inputs),
        "max_abs_diff_output": max_out,
        "max_abs_diff_state": max_state,
        "max_abs_output": scale,
    }


def _initial_state(core: nn.Module | None) -> tuple[torch.Tensor, ...]:
    return core.initial_state(1, "cpu") if core is not None else ()


def _to_env_action(out: np.ndarray, space: Any) -> Any:
    """Model output -> env action: argmax index for discrete spaces, clipped box otherwise."""
    if hasattr(space, "n"):
        return int(np.clip(np.rint(out[0]), 0, space.n - 1))
    return np.clip(out.reshape(space.shape), space.low, space.high).astype(space.dtype)
