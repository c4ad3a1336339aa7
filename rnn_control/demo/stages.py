"""The demo's stages: small functions calling the public APIs of the training, export, runtime
and ROS parts. Each takes a :class:`DemoContext` and returns ``(outputs, info)``; the pipeline
writes the stage marker when it returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.atomic import write_json_atomic
from rnn_control.demo.run_folder import RunFolder
from rnn_control.demo.settings import DemoSettings
from rnn_control.errors import RnnControlError
from rnn_control.scenario import Scenario

StageResult = tuple[list[Path], dict[str, Any]]


class StageUnavailable(RnnControlError):
    """A stage whose dependency is not part of this version."""


def missing_part(exc: ModuleNotFoundError, module: str, what: str) -> StageUnavailable:
    """The :class:`StageUnavailable` to raise when importing ``module`` failed because ``module``
    itself (or a package above it) is missing. Any other missing module (a dependency that
    ``module`` imports, say onnx) is a broken installation, not an older version: ``exc`` is
    raised again as it is."""
    name = exc.name or ""
    if name and (module == name or module.startswith(name + ".")):
        return StageUnavailable(f"{what} ({module}) is not in this version")
    raise exc


@dataclass
class DemoContext:
    """What every stage gets: the settings, the scenario, the run folder, the ROS domain."""

    settings: DemoSettings
    scenario: Scenario
    run: RunFolder
    domain_id: int | None = None
    progress: bool = True

    def say(self, line: str) -> None:
        """One indented line of the demo's narrative on stdout."""
        print(f"  {line}", flush=True)


# ----------------------------------------------------------------------------- training
def train_policy(ctx: DemoContext) -> StageResult:
    """The scenario's policy trainer (recurrent PPO, or BC/DAgger from an expert), resumable."""
    from rnn_control.train.policy.algorithms import train_policy as train

    ctx.say(f"algorithm: {ctx.scenario.policy.algorithm}, {ctx.scenario.policy.total_steps} env steps")
    resume = ctx.run.policy_checkpoint.is_file()
    if resume:
        ctx.say(f"resuming from {ctx.run.policy_checkpoint}")
    res = train(ctx.scenario, ctx.run.policy_dir, resume=resume, progress=ctx.progress)
    ctx.say(
        f"policy: {res.steps} env steps in {res.train_time_s:.0f} s, deterministic return "
        f"{res.final_eval_return:.1f} +/- {res.final_eval_std:.1f}"
    )
    outputs = [res.checkpoint] + ([res.learning_curve] if res.learning_curve else [])
    info = {
        "steps": res.steps,
        "train_time_s": res.train_time_s,
        "final_eval_return": res.final_eval_return,
        "final_eval_std": res.final_eval_std,
        "learning_curve": str(res.learning_curve) if res.learning_curve else None,
        "metrics_csv": str(ctx.run.policy_dir / "metrics.csv"),
    }
    return outputs, info


def train_dynamics(ctx: DemoContext) -> StageResult:
    """Recurrent dynamics model on exploration rollouts of the same env (resumable)."""
    from rnn_control.train.dynamics.trainer import DynamicsTrainer

    trainer = DynamicsTrainer(ctx.scenario, ctx.run.dynamics_dir, progress=ctx.progress, resume=True)
    if trainer.resumed_from is not None:
        ctx.say(f"resuming dynamics training at update {trainer.resumed_from}")
    res = trainer.train()
    rmse = res.report.rmse if res.report is not None else {}
    ctx.say(
        f"dynamics: {res.steps} updates in {res.train_time_s:.0f} s; open-loop normalised RMSE "
        + ", ".join(f"{h} steps {v:.3f}" for h, v in rmse.items())
    )
    info = {
        "updates": res.steps,
        "seconds": res.train_time_s,
        "final_loss": res.final_loss,
        "open_loop_nrmse": rmse,
    }
    return [res.checkpoint], info


# ----------------------------------------------------------------------------- evaluation
def evaluate(ctx: DemoContext) -> StageResult:
    """In-process deterministic evaluation of the checkpoint, and a random policy, on the same
    episode seeds the closed loop uses."""
    from rnn_control.models import build_model
    from rnn_control.train.common.checkpoint import load_checkpoint
    from rnn_control.train.policy.evaluate import evaluate_policy

    s = ctx.settings
    ckpt = load_checkpoint(ctx.run.policy_checkpoint, kind="policy")
    model = build_model(ckpt)
    policy = evaluate_policy(
        model, ctx.scenario.env, s.eval_episodes, seed=s.seed, nominal_dt=float(ckpt["control_period"])
    )
    random_returns = random_policy_returns(ctx.scenario, s.eval_episodes, s.seed)
    data = {
        "seed": s.seed,
        "policy_returns": policy.returns,
        "policy_lengths": policy.lengths,
        "policy_mean": policy.mean,
        "policy_std": policy.std,
        "random_returns": random_returns,
        "random_mean": float(np.mean(random_returns)),
        "random_std": float(np.std(random_returns)),
    }
    path = write_json_atomic(ctx.run.evaluate_dir / "evaluation.json", data)
    ctx.say(
        f"in-process evaluation: {policy.mean:.1f} +/- {policy.std:.1f}; random policy "
        f"{data['random_mean']:.1f} +/- {data['random_std']:.1f} ({s.eval_episodes} episodes)"
    )
    return [path], {k: v for k, v in data.items() if not k.endswith(("_returns", "_lengths"))}


def random_policy_returns(scenario: Scenario, episodes: int, seed: int) -> list[float]:
    """Returns of uniformly random actions, episode ``k`` reset with ``seed + k``."""
    from rnn_control.envs.factory import make_env

    env = make_env(scenario.env)
    env.action_space.seed(seed)
    returns = []
    try:
        for k in range(episodes):
            env.reset(seed=seed + k)
            total, done = 0.0, False
            while not done:
                _, r, term, trunc, _ = env.step(env.action_space.sample())
                total += float(r)
                done = term or trunc
            returns.append(total)
    finally:
        env.close()
    return returns


# ----------------------------------------------------------------------------- export
def export_bundles(ctx: DemoContext) -> StageResult:
    """Both checkpoints -> parity-checked ONNX bundles (the exporter fails loudly on bad parity)."""
    try:
        from rnn_control.export.exporter import export_checkpoint
    except ModuleNotFoundError as exc:
        raise missing_part(exc, "rnn_control.export.exporter", "the exporter") from exc
    info: dict[str, Any] = {}
    outputs = []
    for name, ckpt, bundle in (
        ("policy", ctx.run.policy_checkpoint, ctx.run.policy_bundle),
        ("dynamics", ctx.run.dynamics_checkpoint, ctx.run.dynamics_bundle),
    ):
        res = export_checkpoint(ckpt, bundle)
        parity = dict(res.metadata.parity or {})
        info[name] = {"path": str(res.path), "parity": parity, "bytes": res.path.stat().st_size}
        outputs.append(res.path)
        ctx.say(
            f"{name} bundle {res.path} ({res.path.stat().st_size / 1024:.0f} KiB), "
            f"parity {_fmt_parity(parity)}"
        )
    return outputs, info


def flat_parity(parity: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested parity figures as one level: ``{"a": {"b": x}}`` -> ``{"a.b": x}``."""
    out: dict[str, float] = {}
    for k, v in parity.items():
        if isinstance(v, dict):
            out.update(flat_parity(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
    return out


def _fmt_parity(parity: dict[str, Any]) -> str:
    flat = flat_parity(parity)
    keys = [k for k in flat if "max_abs" in k]
    return ", ".join(f"{k.split('.')[-1]} {flat[k]:.1e}" for k in keys) or "n/a"


# ----------------------------------------------------------------------------- explain
def explain_policy(ctx: DemoContext) -> StageResult:
    """Gates and attribution of the trained policy (see rnn_control.explain)."""
    from rnn_control.explain.report import explain

    s = ctx.settings
    seed, why = typical_episode_seed(ctx)
    ctx.say(f"episode: seed {seed} ({why})")
    res = explain(
        ctx.run.policy_checkpoint,
        out_dir=ctx.run.explain_dir,
        window=s.explain_window,
        n_times=s.explain_times,
        seed=seed,
    )
    a = res.attribution
    ctx.say(
        f"explain: 90% of the attribution within {a.lag_for_mass(0.9)} steps, current frame "
        f"{100 * a.current_frame_share:.0f}% -> {res.out_dir}"
    )
    info = {
        "episode_seed": seed,
        "lag_90": a.lag_for_mass(0.9),
        "lag_50": a.lag_for_mass(0.5),
        "current_frame_share": a.current_frame_share,
        "memory_beyond_window": a.memory_beyond_window,
        "text": res.text,
    }
    return list(res.files.values()), info


def typical_episode_seed(ctx: DemoContext) -> tuple[int, str]:
    """Seed of the in-process evaluation episode with the median return (a typical episode,
    rather than one that happens to start upright), or ``settings.seed`` without an evaluation."""
    path = ctx.run.evaluate_dir / "evaluation.json"
    if not path.is_file():
        return ctx.settings.seed, "first evaluation episode"
    returns = json.loads(path.read_text()).get("policy_returns") or [0.0]
    k = int(np.argsort(returns)[len(returns) // 2])
    return ctx.settings.seed + k, f"the evaluation episode with the median return, {returns[k]:.1f}"
