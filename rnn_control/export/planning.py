"""Checkpoint -> planning bundle: the dynamics model (or ensemble) as the MPC node's model.

``rnn-control export CHECKPOINT --planning K H`` writes a dynamics bundle variant whose graph
steps ``K`` candidates over ``H`` steps in one onnxruntime call (graph:
:mod:`rnn_control.export.planning_graph`; tensors: ``contract.tensors.planning_io``). Its metadata
is the dynamics bundle's plus a ``planning`` section (batch, horizon, members, the command layout).

Parity: the training env is run with random commands for a few ticks; at every tick the bundle and
PyTorch (each member's ``step``, fed its own predictions) filter on the same real pair and roll out
the same random candidates. The bundle is written only if the figures are within tolerance.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch
from torch import nn

from rnn_control.contract.layout import bundle_layout
from rnn_control.contract.metadata import BundleMetadata, PlanningSpec
from rnn_control.errors import BundleError, CheckpointError, ConfigError
from rnn_control.export.layout import metadata_from_checkpoint
from rnn_control.export.onnx_graph import OPSET, save_model, set_metadata
from rnn_control.export.planning_graph import GATES, MemberWeights, build_planning_graph
from rnn_control.models import build_model
from rnn_control.scenario import scenario_from_dict
from rnn_control.train.common.checkpoint import load_checkpoint

MAX_BATCH = 65536
MAX_HORIZON = 1000


@dataclass
class PlanningExportOptions:
    """How to export a planning bundle (``rnn-control export --planning K H``)."""

    batch: int = 256
    horizon: int = 30
    graph: str = "unrolled"  # unrolled | loop
    parity_ticks: int = 12
    tolerance: float = 1e-3  # plan_mean over the whole horizon (errors grow along it)
    state_tolerance: float = 1e-4  # filtered state and one-step prediction
    seed: int | None = None


def members_of(model: nn.Module) -> list[nn.Module]:
    """The single dynamics models a checkpoint's model consists of (an ensemble's members)."""
    split = getattr(model, "member_models", None)
    return list(split()) if callable(split) else [model]


def member_weights(model: nn.Module, where: str = "checkpoint") -> MemberWeights:
    """A ``RecurrentDynamicsModel``'s weights as arrays (what the graph builder reads)."""
    core = getattr(model, "core", None)
    if core is None or not hasattr(model, "obs_norm"):
        raise CheckpointError(
            f"{where}: only recurrent dynamics models can plan (got {type(model).__name__})"
        )
    if core.cell not in GATES:
        raise CheckpointError(
            f"{where}: a planning bundle needs an rnn, lstm or gru core, not '{core.cell}' (a time-aware "
            "cell needs each step's dt, which imagined steps do not have)"
        )

    def arr(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().double().numpy()

    rnn = core.rnn
    layers = [
        tuple(arr(getattr(rnn, f"{kind}_l{i}")) for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        for i in range(core.num_layers)
    ]
    head = [(arr(m.weight), arr(m.bias)) for m in model.head if isinstance(m, nn.Linear)]

    def sd(norm: nn.Module) -> np.ndarray:
        return torch.sqrt(norm.var + norm.eps).detach().float().double().numpy()

    dn = model.delta_norm
    scale = (torch.sqrt(dn.var + dn.eps) * model.delta_active).float()
    return MemberWeights(
        cell=core.cell, layers=layers, head=head,
        obs_mean=arr(model.obs_norm.mean), obs_sd=sd(model.obs_norm),
        act_mean=arr(model.act_norm.mean), act_sd=sd(model.act_norm), clip=float(model.obs_norm.clip),
        delta_mean=arr(dn.mean), delta_scale=arr(scale),
    )  # fmt: skip


def planning_metadata(
    ckpt: dict[str, Any], model: nn.Module, batch: int, horizon: int, graph: str, where: str
) -> BundleMetadata:
    """The dynamics bundle's metadata plus the planning section (commands from the scenario's io)."""
    if not (1 <= batch <= MAX_BATCH and 1 <= horizon <= MAX_HORIZON):
        raise BundleError(
            f"planning export: batch must be in 1..{MAX_BATCH} and horizon in 1..{MAX_HORIZON}, "
            f"got batch {batch}, horizon {horizon}"
        )
    meta = metadata_from_checkpoint(ckpt, model, where=where)
    scenario = scenario_from_dict(ckpt["config"])
    _, commands = bundle_layout(
        scenario.io,
        int(model.obs_dim),
        ckpt["spaces"]["action"],
        "policy",
        fields=ckpt["spaces"].get("fields"),
    )
    members = len(members_of(model))
    spec = PlanningSpec(batch=batch, horizon=horizon, commands=commands, members=members, graph=graph)
    meta = dataclasses.replace(meta, planning=spec, has_std=False)
    try:
        meta.validate()
    except ConfigError as exc:
        raise BundleError(f"{where}: {exc}") from None
    return meta


def export_planning(
    checkpoint: str | Path, output: str | Path, options: PlanningExportOptions | None = None
) -> BundleMetadata:
    """Export ``checkpoint`` (a recurrent dynamics model or ensemble) as a planning bundle."""
    opts = options or PlanningExportOptions()
    checkpoint, output = Path(checkpoint), Path(output)
    ckpt = load_checkpoint(checkpoint, kind="dynamics")
    model = build_model(ckpt).float()
    where = str(checkpoint)
    meta = planning_metadata(ckpt, model, opts.batch, opts.horizon, opts.graph, where)
    members = members_of(model)
    proto = build_planning_graph([member_weights(m, where) for m in members], meta, OPSET)
    scenario = scenario_from_dict(ckpt["config"])
    seed = scenario.seed if opts.seed is None else opts.seed
    with tempfile.TemporaryDirectory(prefix="rnn_control_plan_") as tmp:
        set_metadata(proto, meta)
        candidate = save_model(proto, Path(tmp) / "plan.onnx")
        figures = planning_parity(members, candidate, meta, scenario.env, opts.parity_ticks, seed)
    bad = (
        figures["max_abs_diff_plan"] > opts.tolerance
        or max(figures["max_abs_diff_state"], figures["max_abs_diff_output"]) > opts.state_tolerance
    )
    if bad or not np.isfinite(figures["max_abs_diff_plan"]):
        raise BundleError(
            f"planning parity check FAILED for {checkpoint}: plan {figures['max_abs_diff_plan']:.3g} "
            f"(tolerance {opts.tolerance:g}), state {figures['max_abs_diff_state']:.3g}, one-step "
            f"{figures['max_abs_diff_output']:.3g} (tolerance {opts.state_tolerance:g}); bundle NOT written"
        )
    meta = dataclasses.replace(
        meta,
        parity={
            "torch_vs_onnxruntime": figures, "tolerance": opts.tolerance,
            "state_tolerance": opts.state_tolerance, "exporter": f"planning_graph (opset {OPSET})",
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
        },
    )  # fmt: skip
    set_metadata(proto, meta)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_model(proto, output)
    return meta


@torch.no_grad()
def reference_tick(
    members: list[nn.Module],
    state: list[tuple[torch.Tensor, ...]],
    pair: np.ndarray | None,
    plan_obs: np.ndarray,
    actions: np.ndarray,
) -> tuple[list[tuple[torch.Tensor, ...]], np.ndarray, np.ndarray]:
    """PyTorch's answer to one planning call: per member, filter on ``pair`` (``None``: an episode
    starts, keep the state), then roll ``actions [H, N, a]`` out from ``plan_obs``. Returns the
    filtered states, the one-step predictions ``[E, o]`` and the plan ``[H, E, N, o]``."""
    o = plan_obs.shape[-1]
    new_state, preds, plans = [], [], []
    acts = torch.as_tensor(actions, dtype=torch.float32)
    for m, s in zip(members, state):
        pred = torch.zeros(o)
        if pair is not None:
            x = torch.as_tensor(pair, dtype=torch.float32).view(1, -1)
            mean, log_std, s = m.step(x[:, :o], x[:, o:], s)
            pred = m.to_raw(x[:, :o], mean, log_std)[0][0]
        new_state.append(s)
        preds.append(pred.numpy())
        n = acts.shape[1]
        roll = tuple(t.expand(-1, n, -1).contiguous() for t in s)
        obs = torch.as_tensor(plan_obs, dtype=torch.float32).view(1, -1).expand(n, -1)
        steps = []
        for a in acts:
            mean, log_std, roll = m.step(obs, a, roll)
            obs = m.to_raw(obs, mean, log_std)[0]
            steps.append(obs.numpy())
        plans.append(np.stack(steps))
    return new_state, np.stack(preds), np.stack(plans, axis=1)


def planning_parity(
    members: list[nn.Module], bundle: Path, meta: BundleMetadata, env_cfg: Any, ticks: int, seed: int
) -> dict[str, Any]:
    """Max abs differences bundle vs PyTorch over ``ticks`` planning calls on real env observations
    (random commands, one forced episode restart half way)."""
    from rnn_control.envs import make_env
    from rnn_control.runtime.planning import PlanningModel

    plan = meta.planning
    bundle_model = PlanningModel.load(bundle)
    env = make_env(env_cfg, seed=seed)
    rng = np.random.default_rng(seed)
    low, high = bundle_model.action_low, bundle_model.action_high
    obs, _ = env.reset(seed=seed)
    state = [m.initial_state(1) for m in members]
    pair = None
    worst = {"plan": 0.0, "state": 0.0, "output": 0.0}
    for tick in range(ticks):
        obs = np.asarray(obs, dtype=np.float32).reshape(-1)
        actions = rng.uniform(low, high, size=(plan.horizon, plan.batch, len(low))).astype(np.float32)
        state, preds, want = reference_tick(members, state, pair, obs, actions)
        bundle_model.begin(obs)
        bundle_model.actions[:] = actions
        got = bundle_model.rollout()
        worst["plan"] = max(worst["plan"], float(np.abs(got - want).max()))
        got_state = bundle_model.filtered_state()
        for i, tensor in enumerate(got_state):
            ref = torch.cat([s[i] for s in state], dim=1).numpy()
            worst["state"] = max(worst["state"], float(np.abs(tensor - ref).max()))
        if pair is not None:
            worst["output"] = max(
                worst["output"], float(np.abs(bundle_model.filter_prediction() - preds).max())
            )
        command = rng.uniform(low, high).astype(np.float32)
        bundle_model.commit(command)
        pair = np.concatenate([obs, command])
        obs, _, terminated, truncated, _ = env.step(command.astype(env.action_space.dtype))
        if terminated or truncated or tick == ticks // 2:
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
            bundle_model.reset()
            state = [m.initial_state(1) for m in members]
            pair = None
    env.close()
    return {
        "ticks": ticks, "batch": plan.batch, "horizon": plan.horizon, "members": plan.members,
        "max_abs_diff_plan": worst["plan"], "max_abs_diff_state": worst["state"],
        "max_abs_diff_output": worst["output"], "env": env_cfg.id, "seed": seed,
    }  # fmt: skip
