"""Record one episode of a recurrent policy: observations, actions, rewards, the recurrent state
before and after every step, and (torch models) the exact input the recurrent core received.

A policy is driven through a small *stepper* interface so the same recording works for a torch
model following the inference contract (``act_inference``, ``core``, ``obs_dim``) and for an
exported ONNX bundle (tensor names ``obs``/``h_in``/``c_in``/``dt`` -> ``actions``/``h_out``/``c_out``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rnn_control.envs.factory import make_env
from rnn_control.errors import BundleError
from rnn_control.scenario import EnvConfig

State = tuple[np.ndarray, ...]  # each [layers, 1, hidden]


class TorchStepper:
    """Steps a torch policy one tick at a time (batch 1) and captures the core's input."""

    def __init__(self, model: nn.Module) -> None:
        for attr in ("act_inference", "core", "obs_dim"):
            if not hasattr(model, attr):
                raise TypeError(f"explain needs a policy with '{attr}' (see the model inference contract)")
        self.model = model.eval()
        self.core = model.core
        self.obs_dim = int(model.obs_dim)
        self.time_aware = bool(getattr(self.core, "time_aware", False))
        self.last_core_input: np.ndarray | None = None
        # Hook the torch kernel inside the core (``core.rnn``): it is always *called* (hooks
        # fire), whereas ``core.step`` reaches ``core.forward`` without ``__call__``.
        self.core.rnn.register_forward_pre_hook(self._capture, with_kwargs=True)

    def _capture(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        x = args[0] if args else kwargs.get("input", kwargs.get("x"))
        if isinstance(x, torch.Tensor):
            self.last_core_input = x.detach().reshape(-1, x.shape[-1])[-1].numpy().copy()

    def initial_state(self) -> State:
        return tuple(s.numpy() for s in self.core.initial_state(1))

    @torch.no_grad()
    def step(self, obs: np.ndarray, state: State, dt: float | None) -> tuple[np.ndarray, State]:
        self.last_core_input = None  # set again by the hook during this step
        o = torch.as_tensor(obs, dtype=torch.float32).reshape(1, -1)
        dt_t = torch.tensor([[dt]], dtype=torch.float32) if self.time_aware and dt is not None else None
        action, new = self.model.act_inference(o, tuple(torch.from_numpy(s) for s in state), dt_t)
        return action.reshape(-1).numpy().copy(), tuple(s.numpy().copy() for s in new)


class OnnxStepper:
    """Steps an exported bundle with onnxruntime directly (explicit state in, state out)."""

    def __init__(self, path: str | Path) -> None:
        import onnxruntime as ort

        path = Path(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise BundleError(f"{path}: cannot be loaded by onnxruntime ({exc})") from exc
        inputs = {i.name: i for i in self.session.get_inputs()}
        if "obs" not in inputs or "h_in" not in inputs:
            raise BundleError(f"{path}: expected inputs 'obs' and 'h_in', found {sorted(inputs)}")
        self.state_names = ["h_in"] + (["c_in"] if "c_in" in inputs else [])
        self.state_shapes = [tuple(inputs[n].shape) for n in self.state_names]
        self.obs_dim = int(inputs["obs"].shape[-1])
        self.time_aware = "dt" in inputs
        self.outputs = ["actions"] + [n.replace("_in", "_out") for n in self.state_names]
        self.last_core_input = None

    def initial_state(self) -> State:
        return tuple(np.zeros(s, dtype=np.float32) for s in self.state_shapes)

    def step(self, obs: np.ndarray, state: State, dt: float | None) -> tuple[np.ndarray, State]:
        feed: dict[str, Any] = {"obs": np.asarray(obs, dtype=np.float32).reshape(1, -1)}
        feed.update(zip(self.state_names, state))
        if self.time_aware:
            feed["dt"] = np.array([[dt if dt is not None else 0.0]], dtype=np.float32)
        out = self.session.run(self.outputs, feed)
        return out[0].reshape(-1), tuple(out[1:])


@dataclass
class EpisodeRecord:
    """Everything seen and done during one episode (arrays indexed by step ``t``)."""

    observations: np.ndarray  # [T, obs_dim] raw observation fed at step t
    actions: np.ndarray  # [T, act_dim] policy output (unclipped)
    rewards: np.ndarray  # [T]
    dts: np.ndarray  # [T] seconds since the previous step (what a time-aware cell sees)
    states_before: State  # each [T, layers, hidden]: state fed into step t
    states_after: State  # each [T, layers, hidden]: state returned by step t
    core_inputs: np.ndarray | None  # [T, core_in] normalised input of the core (torch only)
    control_period: float

    @property
    def length(self) -> int:
        return len(self.rewards)

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum())


def env_action(action: np.ndarray, space: gym.Space) -> Any:
    """Policy output -> what ``env.step`` takes (clipped Box, int for Discrete)."""
    if isinstance(space, gym.spaces.Box):
        return np.clip(action, space.low, space.high).astype(space.dtype)
    return int(np.asarray(action).reshape(-1)[0])


def record_episode(
    stepper: TorchStepper | OnnxStepper,
    env_cfg: EnvConfig,
    seed: int = 0,
    control_period: float = 0.05,
    max_steps: int | None = None,
) -> EpisodeRecord:
    """Run one deterministic episode from a zero state and record it."""
    env = make_env(env_cfg)
    try:
        obs, info = env.reset(seed=seed)
        if obs.shape[-1] != stepper.obs_dim:
            raise BundleError(
                f"the scenario's env gives observations of size {obs.shape[-1]}, the policy expects "
                f"{stepper.obs_dim}: pass the --scenario the policy was trained on"
            )
        state = stepper.initial_state()
        rows: dict[str, list] = {k: [] for k in ("obs", "act", "rew", "dt", "before", "after", "core")}
        dt = float(info.get("dt", control_period))
        done, t = False, 0
        while not done and (max_steps is None or t < max_steps):
            action, new_state = stepper.step(obs, state, dt)
            rows["obs"].append(np.asarray(obs, dtype=np.float32))
            rows["act"].append(action)
            rows["dt"].append(dt)
            rows["before"].append(state)
            rows["after"].append(new_state)
            rows["core"].append(stepper.last_core_input)
            obs, reward, term, trunc, info = env.step(env_action(action, env.action_space))
            rows["rew"].append(float(reward))
            dt = float(info.get("dt", control_period))
            state, done, t = new_state, bool(term or trunc), t + 1
    finally:
        env.close()

    def stack_states(states: list[State]) -> State:
        return tuple(np.stack([s[i][:, 0] for s in states]) for i in range(len(states[0])))

    core = rows["core"]
    return EpisodeRecord(
        observations=np.stack(rows["obs"]),
        actions=np.stack(rows["act"]).reshape(t, -1),
        rewards=np.asarray(rows["rew"]),
        dts=np.asarray(rows["dt"], dtype=np.float32),
        states_before=stack_states(rows["before"]),
        states_after=stack_states(rows["after"]),
        core_inputs=np.stack(core) if core and core[0] is not None else None,
        control_period=control_period,
    )
