"""One rank of a data-parallel training run, for ``tests/test_distributed.py`` (started by torchrun,
or by a test that sets the torchrun variables itself)::

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/distributed_worker.py \\
        KIND SPEC_JSON RUN_DIR OUT_DIR [--resume]

``KIND`` is ``ppo``, ``bc`` or ``dynamics``; ``SPEC_JSON`` is ``{"scenario": name, "overrides":
{...}}``. The rank trains through the product's trainers, then writes its final parameters and
buffers to ``OUT_DIR/rank<R>.pt`` (what the tests compare across ranks and across world sizes).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from rnn_control.scenario import load_scenario
from rnn_control.train.dynamics.trainer import DynamicsTrainer
from rnn_control.train.policy.algorithms import train_policy


def main(argv: list[str]) -> int:
    kind, spec_json, run_dir, out_dir = argv[:4]
    resume = "--resume" in argv[4:]
    spec = json.loads(spec_json)
    scenario = load_scenario(spec["scenario"], spec.get("overrides", {}))
    if kind == "dynamics":
        trainer = DynamicsTrainer(scenario, run_dir, progress=False, tensorboard=False, resume=resume)
        model = trainer.model
        trainer.train()
    else:
        captured: dict[str, torch.nn.Module] = {}
        from rnn_control.train.policy import run as policy_run

        original = policy_run.PolicyRun.finish

        def finish(self):  # keep the model the trainer built, to dump it
            captured["model"] = self.model
            return original(self)

        policy_run.PolicyRun.finish = finish
        train_policy(scenario, run_dir, resume=resume, progress=False, tensorboard=False)
        model = captured["model"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rank = os.environ.get("RANK", "0")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, out / f"rank{rank}.pt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
