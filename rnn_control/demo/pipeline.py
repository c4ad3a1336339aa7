"""Run the demo's stages in order, skipping the ones already complete in the run folder."""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnn_control.atomic import write_json_atomic
from rnn_control.demo import preflight, stages
from rnn_control.demo.run_folder import RunFolder
from rnn_control.demo.settings import DemoSettings, settings_path


@dataclass
class Stage:
    name: str
    title: str
    run: Callable[[stages.DemoContext], stages.StageResult]
    needs: tuple[str, ...] = ()


def stage_list() -> list[Stage]:
    from rnn_control.demo.closed_loop import run_closed_loop
    from rnn_control.demo.report import write_report

    return [
        Stage("policy", "train the policy in simulation", stages.train_policy),
        Stage("dynamics", "train the dynamics model", stages.train_dynamics),
        Stage("evaluate", "evaluate in-process (and a random policy)", stages.evaluate, ("policy",)),
        Stage(
            "export", "export ONNX bundles with parity checks", stages.export_bundles, ("policy", "dynamics")
        ),
        Stage("closed_loop", "closed loop over ROS 2 (3 node processes)", run_closed_loop, ("export",)),
        Stage(
            "explain",
            "explain the policy (gates, attribution)",
            stages.explain_policy,
            ("policy", "evaluate"),
        ),
        Stage("report", "write the report", write_report),
    ]


@dataclass
class DemoOutcome:
    run_dir: Path
    completed: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class _Terminated(KeyboardInterrupt):
    """SIGTERM turned into the same clean shutdown as Ctrl-C."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


def run_demo(
    settings: DemoSettings,
    run_dir: str | Path,
    domain_id: int | None = None,
    fresh: bool = False,
    progress: bool = True,
) -> DemoOutcome:
    """Preflight, then every stage; Ctrl-C / SIGTERM stop cleanly (finished stages stay done)."""
    t0 = time.perf_counter()
    run = RunFolder(run_dir)
    if fresh and settings_path(run.root).is_file():  # only ever delete a demo run folder
        shutil.rmtree(run.root)
    # --- preflight: bad input before any long work ---------------------------------------------
    scenario = preflight.check_scenario(settings)
    preflight.check_run_folder(run, settings)
    missing_nodes = preflight.ros_node_modules_present()
    domain, domain_line = None, "closed loop unavailable"
    if not missing_nodes:
        preflight.check_ros_installation()
        domain, domain_line = preflight.choose_domain(domain_id)
    write_json_atomic(settings_path(run.root), settings.to_dict())
    ctx = stages.DemoContext(settings, scenario, run, domain, progress)
    mode = "quick" if settings.quick else "full"
    print(
        f"rnn-control demo ({mode}): scenario '{scenario.name}', run folder {run.root}; {domain_line}",
        flush=True,
    )

    outcome = DemoOutcome(run.root)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        all_stages = stage_list()
        for i, stage in enumerate(all_stages, start=1):
            head = f"[{i}/{len(all_stages)}] {stage.title}"
            blocked = [n for n in stage.needs if n in outcome.unavailable]
            if blocked:
                outcome.unavailable[stage.name] = f"needs stage '{blocked[0]}'"
                print(f"{head}: not run (needs {blocked[0]}, which is unavailable)", flush=True)
                continue
            if stage.name == "closed_loop" and missing_nodes:
                outcome.unavailable[stage.name] = f"ROS node modules missing: {', '.join(missing_nodes)}"
                print(f"{head}: not run ({outcome.unavailable[stage.name]})", flush=True)
                continue
            done = run.completed(stage.name)
            if done is not None and stage.name != "report":
                outcome.completed[stage.name] = done
                print(f"{head}: done earlier ({done['completed_at']}), reusing", flush=True)
                continue
            print(head, flush=True)
            ts = time.perf_counter()
            try:
                outputs, info = stage.run(ctx)
            except stages.StageUnavailable as exc:
                outcome.unavailable[stage.name] = str(exc)
                print(f"  not available: {exc}", flush=True)
                continue
            outcome.completed[stage.name] = run.mark_done(stage.name, outputs, info, time.perf_counter() - ts)
            # A stage that ran again invalidates the stages built on it.
            for later in all_stages[i:]:
                if stage.name in later.needs or later.name == "report":
                    run.invalidate(later.name)
    finally:
        signal.signal(signal.SIGTERM, previous)
    outcome.seconds = time.perf_counter() - t0
    return outcome
