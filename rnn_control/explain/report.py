"""``explain``: load a policy (checkpoint or bundle), record an episode, compute gates and
attribution, write the PNGs and a Markdown/JSON summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.errors import BundleError, CheckpointError
from rnn_control.explain.attribution import Attribution, finite_difference_attribution, torch_attribution
from rnn_control.explain.gates import GateTrace, gate_activations
from rnn_control.explain.plots import plot_attribution, plot_gates
from rnn_control.explain.recording import EpisodeRecord, OnnxStepper, TorchStepper, record_episode
from rnn_control.scenario import Scenario, load_scenario, scenario_from_dict


@dataclass
class LoadedPolicy:
    """What explain needs: a stepper, the torch model when available, and the context."""

    source: Path
    stepper: TorchStepper | OnnxStepper
    model: Any | None  # torch model (gates and gradients need it)
    scenario: Scenario
    control_period: float
    obs_names: list[str] | None
    notes: list[str] = field(default_factory=list)
    checkpoint_path: Path | None = None


def bundle_metadata(path: Path) -> dict[str, Any]:
    """The ``rnn_control`` metadata JSON of a bundle, read with onnxruntime."""
    import onnxruntime as ort

    try:
        meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta()
        return json.loads(meta.custom_metadata_map["rnn_control"])
    except KeyError as exc:
        raise BundleError(f"{path}: no 'rnn_control' metadata (not an rnn_control bundle)") from exc
    except Exception as exc:
        raise BundleError(f"{path}: cannot read bundle metadata ({exc})") from exc


def checkpoint_beside(bundle: Path, meta: dict[str, Any]) -> Path | None:
    """A policy checkpoint matching ``bundle`` in the usual places (the demo's run folder first)."""
    candidates = [
        bundle.parent.parent / "policy" / "checkpoint.pt",  # <run>/bundles/policy.onnx
        bundle.with_suffix(".pt"),
        bundle.parent / "checkpoint.pt",
    ]
    stored = meta.get("scenario") or {}
    for cand in candidates:
        if not cand.is_file():
            continue
        import torch

        try:
            ckpt = torch.load(cand, map_location="cpu", weights_only=False)
        except Exception:
            continue
        cfg = ckpt.get("config", {}) if isinstance(ckpt, dict) else {}
        if ckpt.get("kind") == "policy" and all(cfg.get(k) == stored.get(k) for k in ("env", "model")):
            return cand
    return None


def _obs_names_from_io(io: Any) -> list[str] | None:
    """Observation names from the scenario's ``io:`` layout, when it names every field."""
    fields = io.get("observation") if isinstance(io, dict) else getattr(io, "observation", None)
    names = [f.get("name") if isinstance(f, dict) else getattr(f, "name", None) for f in fields or []]
    return [str(n) for n in names] if names and all(names) else None


def load_policy(path: str | Path, scenario: str | None = None) -> LoadedPolicy:
    """Load a checkpoint (``.pt``) or a bundle (``.onnx``) for explanation."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint or bundle")
    if path.suffix == ".onnx":
        return _load_bundle(path, scenario)
    return _load_checkpoint(path, scenario)


def _load_checkpoint(path: Path, scenario: str | None, notes: list[str] | None = None) -> LoadedPolicy:
    from rnn_control.models import build_model
    from rnn_control.train.common.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path, kind="policy")
    model = build_model(ckpt)
    if getattr(model, "core", None) is None:
        raise CheckpointError(
            f"{path}: the policy has no recurrent core (an MLP policy has no memory to explain)"
        )
    scen = load_scenario(scenario) if scenario else scenario_from_dict(ckpt["config"])
    return LoadedPolicy(
        source=path,
        stepper=TorchStepper(model),
        model=model,
        scenario=scen,
        control_period=float(ckpt.get("control_period") or scen.model.nominal_dt),
        obs_names=_obs_names_from_io(scen.io),
        notes=list(notes or []),
        checkpoint_path=path,
    )


def _load_bundle(path: Path, scenario: str | None) -> LoadedPolicy:
    meta = bundle_metadata(path)
    if meta.get("kind", "policy") != "policy":
        raise BundleError(f"{path}: is a {meta.get('kind')!r} bundle; explain needs a policy bundle")
    obs_names = [
        f["name"] for f in meta.get("observation", []) if isinstance(f, dict) and "name" in f
    ] or None
    ckpt = checkpoint_beside(path, meta)
    if ckpt is not None:
        loaded = _load_checkpoint(
            ckpt, scenario, [f"gates and gradients from the matching checkpoint beside the bundle: {ckpt}"]
        )
        loaded.obs_names = obs_names or loaded.obs_names
        return loaded
    if scenario:
        scen = load_scenario(scenario)
    elif meta.get("scenario"):
        scen = scenario_from_dict(meta["scenario"])
    else:
        raise BundleError(f"{path}: the bundle does not name its scenario; pass --scenario")
    return LoadedPolicy(
        source=path,
        stepper=OnnxStepper(path),
        model=None,
        scenario=scen,
        control_period=float(meta.get("control_period") or scen.model.nominal_dt),
        obs_names=obs_names,
        notes=[
            "no matching checkpoint beside the bundle: gate activations need torch weights, so the "
            "hidden state is plotted instead, and the attribution uses finite differences through onnxruntime"
        ],
    )


@dataclass
class ExplainResult:
    out_dir: Path
    record: EpisodeRecord
    gates: GateTrace | None
    attribution: Attribution
    files: dict[str, Path]
    text: str
    grad_flow: dict[str, Any] | None = None


def explain(
    path: str | Path,
    scenario: str | None = None,
    out_dir: str | Path | None = None,
    window: int = 32,
    n_times: int = 64,
    method: str = "ig",
    seed: int = 0,
    max_steps: int | None = None,
    grad_flow: bool = True,
) -> ExplainResult:
    """Explain a policy end to end and write ``gates.png``, ``attribution.png``, ``explain.md``/``.json``."""
    loaded = load_policy(path, scenario)
    out = Path(out_dir) if out_dir else Path(path).parent / "explain"
    out.mkdir(parents=True, exist_ok=True)
    record = record_episode(loaded.stepper, loaded.scenario.env, seed, loaded.control_period, max_steps)
    window = min(window, record.length - 1)
    trace = None
    if loaded.model is not None and record.core_inputs is not None:
        trace = gate_activations(
            loaded.model.core, record.core_inputs, record.states_before, record.states_after, record.dts
        )
    if loaded.model is not None and method in ("ig", "gxi"):
        attr = torch_attribution(loaded.model, record, window, n_times, method)
    else:
        attr = finite_difference_attribution(loaded.stepper, record, window, min(n_times, 32))
    name = loaded.scenario.name or "policy"
    files = {
        "gates": plot_gates(
            record, trace, out / "gates.png", loaded.obs_names, f"{name}: {_cell_title(loaded)}"
        ),
        "attribution": plot_attribution(attr, out / "attribution.png", loaded.obs_names),
    }
    flow = _grad_flow(loaded, out, files) if grad_flow else None
    text = _summary_text(loaded, record, trace, attr, flow)
    (out / "explain.md").write_text(_markdown(loaded, text, files))
    summary = {
        "source": str(loaded.source),
        "scenario": name,
        "episode_return": record.episode_return,
        "episode_length": record.length,
        "gates": None
        if trace is None
        else {"cell": trace.cell, "reconstruction_error": trace.reconstruction_error, **trace.summary()},
        "attribution": attr.to_dict(),
        "grad_flow": flow,
        "notes": loaded.notes,
    }
    (out / "explain.json").write_text(json.dumps(summary, indent=2, default=_json_default))
    files["markdown"], files["json"] = out / "explain.md", out / "explain.json"
    return ExplainResult(out, record, trace, attr, files, text, flow)


def _cell_title(loaded: LoadedPolicy) -> str:
    if loaded.model is not None:
        core = loaded.model.core
        return f"{core.cell.upper()} {core.num_layers}x{core.hidden_size} gate activations"
    m = loaded.scenario.model
    return f"{m.cell.upper()} {m.num_layers}x{m.hidden_size} hidden state (bundle)"


def _grad_flow(loaded: LoadedPolicy, out: Path, files: dict[str, Path]) -> dict[str, Any] | None:
    """The gradient-flow diagnostic for this scenario (None, with a note, if it failed)."""
    from rnn_control.explain.grad_flow_adapter import gradient_flow_summary

    try:
        result = gradient_flow_summary(loaded.scenario, loaded.checkpoint_path, out)
    except Exception as exc:  # a diagnostic must not lose the rest of the report
        loaded.notes.append(f"gradient-flow diagnostic failed: {exc}")
        return None
    if result.get("png"):
        files["grad_flow"] = Path(result["png"])
    return result


def _summary_text(loaded, record, trace, attr, flow) -> str:
    lines = [
        f"Policy {loaded.source} on scenario '{loaded.scenario.name}': one episode of {record.length} steps, "
        f"return {record.episode_return:.1f}.",
    ]
    if trace is not None:
        lines.append(
            f"Gate activations ({trace.cell}; recomputed from the weights, max error "
            f"{trace.reconstruction_error:.1e} against the recorded state):"
        )
        for name, s in trace.summary().items():
            lines.append(
                f"  {name:8s} mean {s['mean']:.2f} +/- {s['std']:.2f}, "
                f"saturated {100 * s['saturated']:.0f}% of the time"
            )
        if "update" in trace.gates:
            z = trace.gates["update"]
            lines.append(
                f"  update gate z is the share of the old state kept per step: mean {z.mean():.2f} "
                f"-> a memory time constant of about {1 / max(1e-6, 1 - z.mean()):.1f} steps"
            )
        if "forget" in trace.gates:
            f = trace.gates["forget"]
            lines.append(
                f"  forget gate mean {f.mean():.2f} -> memory time constant about "
                f"{1 / max(1e-6, 1 - f.mean()):.1f} steps"
            )
    lines.append(attr.summary_text(loaded.obs_names))
    if flow and flow.get("text"):
        lines.append(flow["text"])
    lines += [f"Note: {n}" for n in loaded.notes]
    return "\n".join(lines)


def _markdown(loaded: LoadedPolicy, text: str, files: dict[str, Path]) -> str:
    imgs = "\n".join(f"![{k}]({p.name})" for k, p in files.items() if p.suffix == ".png")
    return f"# Explain: {loaded.scenario.name}\n\n```\n{text}\n```\n\n{imgs}\n"


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)
