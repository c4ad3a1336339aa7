"""Which past inputs drive the current action, and how far back the policy looks.

For a set of times ``t`` in a recorded episode, the action at ``t`` is recomputed by running the
policy from the *recorded* state at ``t - W`` over the inputs ``x[t-W .. t]`` (so the replay
reproduces the recorded action exactly), and attributed to each input dimension at each lag
``k = 0 .. W`` (``k = 0`` is the current frame):

- ``ig``: integrated gradients along the straight path from a baseline window (every frame set
  to the episode's mean observation) to the real window, ``steps`` points (Sundararajan et al.
  2017); attributions sum to ``a(x) - a(baseline)`` for each t.
- ``gxi``: gradient x (input - baseline) at the real window (one backward pass).
- ``fd``: the same as ``gxi`` with the gradient from central finite differences; works on any
  stepper, including an ONNX bundle through onnxruntime (no torch weights needed).

The absolute attributions are averaged over ``t`` (and summed over action dimensions), giving
a heatmap ``[obs_dim, W + 1]``; the lag profile is its column sum, normalised. "How far back
the policy looks" is the smallest lag holding ``mass`` (default 90 %) of the attribution.
The influence of everything *before* the window is reported separately as the mean change of
the action when the state at ``t - W`` is zeroed (``memory_beyond_window``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from rnn_control.explain.recording import EpisodeRecord, OnnxStepper, TorchStepper


@dataclass
class Attribution:
    """Mean absolute attribution ``values[dim, lag]`` and its summary."""

    values: np.ndarray  # [obs_dim, W + 1], lag 0 = current frame
    method: str
    window: int
    times: list[int]
    control_period: float
    memory_beyond_window: float  # mean |a(recorded state) - a(zero state)| at the window start
    action_scale: float  # mean |a| over the sampled times (for relative figures)
    replay_error: float  # max |replayed action - recorded action|

    @property
    def lag_profile(self) -> np.ndarray:
        col = self.values.sum(axis=0)
        total = col.sum()
        return col / total if total > 0 else col

    def lag_for_mass(self, mass: float = 0.9) -> int:
        """Smallest lag L such that lags 0..L hold at least ``mass`` of the attribution."""
        cum = np.cumsum(self.lag_profile)
        return int(np.searchsorted(cum, mass - 1e-9))

    @property
    def current_frame_share(self) -> float:
        return float(self.lag_profile[0])

    @property
    def mean_lag(self) -> float:
        p = self.lag_profile
        return float((p * np.arange(len(p))).sum())

    def summary_text(self, obs_names: list[str] | None = None) -> str:
        lag90 = self.lag_for_mass(0.9)
        lag50 = self.lag_for_mass(0.5)
        dt = self.control_period
        dims = self.values.sum(axis=1)
        names = obs_names or [f"obs_{i}" for i in range(len(dims))]
        order = np.argsort(dims)[::-1]
        share = dims / dims.sum() if dims.sum() > 0 else dims
        top = ", ".join(f"{names[i]} {100 * share[i]:.0f}%" for i in order[:4])
        lines = [
            f"How far back the policy looks ({self.method}, window {self.window} steps = "
            f"{self.window * dt:.2f} s, averaged over {len(self.times)} time steps):",
            f"  90% of the attribution lies within {_lags(lag90, dt)}; 50% within {_lags(lag50, dt)}; "
            f"mean lag {self.mean_lag:.1f} steps.",
            f"  The current frame carries {100 * self.current_frame_share:.0f}% of it; "
            f"earlier frames {100 * (1 - self.current_frame_share):.0f}%.",
            f"  By input: {top}.",
            f"  Memory older than the window: zeroing the state at t-{self.window} changes the action by "
            f"{self.memory_beyond_window:.3g} on average (mean |action| {self.action_scale:.3g}).",
        ]
        if self.current_frame_share > 0.9:
            lines.append("  -> the policy acts almost only on the current frame (little use of memory).")
        else:
            lines.append(
                "  -> the policy integrates information over several past frames (it uses its memory)."
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["values"] = self.values.tolist()
        d.update(
            lag_profile=self.lag_profile.tolist(),
            lag_90=self.lag_for_mass(0.9),
            lag_50=self.lag_for_mass(0.5),
            current_frame_share=self.current_frame_share,
            mean_lag=self.mean_lag,
        )
        return d


def _lags(lag: int, dt: float) -> str:
    return "the current frame" if lag == 0 else f"the last {lag} step(s) before it ({lag * dt:.2f} s)"


def sample_times(length: int, window: int, n_times: int) -> list[int]:
    """Up to ``n_times`` evenly spaced times ``t >= window`` in an episode of ``length`` steps."""
    if length <= window:
        raise ValueError(f"episode of {length} steps is too short for a window of {window} steps")
    ts = np.linspace(window, length - 1, num=min(n_times, length - window))
    return sorted({round(float(t)) for t in ts})


def _windows(record: EpisodeRecord, times: list[int], window: int):
    idx = np.asarray(times)[:, None] + np.arange(-window, 1)[None, :]  # [B, W+1]
    x = record.observations[idx]  # [B, W+1, obs]
    dt = record.dts[idx]  # [B, W+1]
    states0 = tuple(s[idx[:, 0]] for s in record.states_before)  # each [B, L, H]
    return x, dt, states0


def torch_attribution(
    model: nn.Module,
    record: EpisodeRecord,
    window: int = 32,
    n_times: int = 64,
    method: str = "ig",
    steps: int = 16,
    baseline: np.ndarray | None = None,
) -> Attribution:
    """Integrated gradients (``ig``) or gradient x input (``gxi``) through a torch policy."""
    if method not in ("ig", "gxi"):
        raise ValueError(f"method must be 'ig' or 'gxi', got {method!r}")
    model.eval()
    time_aware = bool(getattr(model.core, "time_aware", False))
    times = sample_times(record.length, window, n_times)
    x_np, dt_np, s0_np = _windows(record, times, window)
    B, W1, D = x_np.shape
    base = np.asarray(baseline if baseline is not None else record.observations.mean(0), dtype=np.float32)
    alphas = (np.arange(1, steps + 1) / steps) if method == "ig" else np.ones(1)
    m = len(alphas)
    x = torch.as_tensor(x_np, dtype=torch.float32)
    b = torch.as_tensor(base).expand_as(x)
    a = torch.as_tensor(alphas, dtype=torch.float32).view(m, 1, 1, 1)
    path = (b + a * (x - b)).reshape(m * B, W1, D).detach().requires_grad_(True)
    state = tuple(
        torch.as_tensor(s, dtype=torch.float32).permute(1, 0, 2).repeat(1, m, 1).contiguous() for s in s0_np
    )  # each [L, m*B, H]
    dts = torch.as_tensor(dt_np, dtype=torch.float32).repeat(m, 1)  # [m*B, W+1]
    action = _run_window(model, path, state, dts, time_aware)  # [m*B, A]
    total = torch.zeros(B, W1, D)
    for j in range(action.shape[-1]):
        (grad,) = torch.autograd.grad(action[:, j].sum(), path, retain_graph=True)
        total += ((x - b) * grad.reshape(m, B, W1, D).mean(0)).abs()
    values = total.mean(0).T.flip(1).numpy()  # [D, W+1], lag 0 first
    with torch.no_grad():
        replay = action.reshape(m, B, -1)[-1].numpy()
        zero_state = tuple(torch.zeros_like(s[:, :B]) for s in state)
        a0 = _run_window(model, x, zero_state, dts[:B], time_aware).numpy()
    recorded = record.actions[np.asarray(times)]
    return Attribution(
        values=values,
        method="integrated gradients" if method == "ig" else "gradient x input",
        window=window,
        times=times,
        control_period=record.control_period,
        memory_beyond_window=float(np.abs(replay - a0).mean()),
        action_scale=float(np.abs(recorded).mean()),
        replay_error=float(np.abs(replay - recorded).max()),
    )


def _run_window(model, x, state, dts, time_aware: bool) -> torch.Tensor:
    """Run ``x [B, W+1, D]`` forward through ``act_inference`` from ``state``; last action."""
    action = None
    for k in range(x.shape[1]):
        dt = dts[:, k : k + 1] if time_aware else None
        action, state = model.act_inference(x[:, k], state, dt)
    return action


def finite_difference_attribution(
    stepper: TorchStepper | OnnxStepper,
    record: EpisodeRecord,
    window: int = 32,
    n_times: int = 32,
    eps: float = 1e-3,
    baseline: np.ndarray | None = None,
) -> Attribution:
    """Gradient x input with central finite differences, one perturbed replay per (t, lag, dim).

    A perturbation at lag ``k`` only changes steps ``t-k .. t``, so each replay starts from the
    recorded state at ``t - k``.
    """
    times = sample_times(record.length, window, n_times)
    base = np.asarray(baseline if baseline is not None else record.observations.mean(0), dtype=np.float32)
    obs, dts = record.observations, record.dts
    D = obs.shape[1]
    values = np.zeros((D, window + 1))

    def replay(t0: int, t: int, first: np.ndarray, state) -> np.ndarray:
        a, s = stepper.step(first, state, float(dts[t0]))
        for u in range(t0 + 1, t + 1):
            a, s = stepper.step(obs[u], s, float(dts[u]))
        return a

    def state_at(u: int):
        return tuple(s[u][:, None, :].astype(np.float32) for s in record.states_before)

    replays, zero_diff = [], []
    for t in times:
        for k in range(window + 1):
            t0 = t - k
            s0 = state_at(t0)
            for d in range(D):
                plus, minus = obs[t0].copy(), obs[t0].copy()
                plus[d] += eps
                minus[d] -= eps
                grad = (replay(t0, t, plus, s0) - replay(t0, t, minus, s0)) / (2 * eps)
                values[d, k] += float(np.abs(grad * (obs[t0, d] - base[d])).sum())
        t0 = t - window
        a_rec = replay(t0, t, obs[t0], state_at(t0))
        zero = tuple(np.zeros_like(s) for s in state_at(t0))
        replays.append(np.abs(a_rec - record.actions[t]).max())
        zero_diff.append(np.abs(a_rec - replay(t0, t, obs[t0], zero)).mean())
    return Attribution(
        values=values / len(times),
        method="gradient x input (finite differences through onnxruntime)"
        if isinstance(stepper, OnnxStepper)
        else "gradient x input (finite differences)",
        window=window,
        times=times,
        control_period=record.control_period,
        memory_beyond_window=float(np.mean(zero_diff)),
        action_scale=float(np.abs(record.actions[np.asarray(times)]).mean()),
        replay_error=float(np.max(replays)),
    )
