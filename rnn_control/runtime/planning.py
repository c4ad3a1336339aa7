"""A planning bundle in the torch-free runtime: filtered recurrent state + batched imagined rollouts.

PlaNet-style state handling, one tick at a time:

1. :meth:`PlanningModel.begin` takes the current real observation. The graph filters the state on
   the previous tick's (observation, executed command) pair inside every rollout call, so the
   filter always sees real data only;
2. the planner writes candidates into :attr:`PlanningModel.actions` (``[H, N, a]``, model units)
   and calls :meth:`PlanningModel.rollout` (as often as its iterations need): the filtered state
   is broadcast to the ``N`` candidates inside the graph and the predictions come back
   ``[H, E, N, o]``; the imagined states never leave the graph;
3. :meth:`PlanningModel.commit` with the command actually sent (model units) keeps the filtered
   state and remembers the pair for the next tick.

All buffers are allocated at load time and bound once (IO binding over numpy memory); the state is
double-buffered like the :class:`~rnn_control.runtime.stepper.Stepper`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from rnn_control.contract.metadata import BundleMetadata
from rnn_control.contract.tensors import CANDIDATE_AXIS, planning_io
from rnn_control.errors import BundleError
from rnn_control.runtime.io_spec import IOSpec
from rnn_control.runtime.session import metadata_for_session, open_session

STATE = (("h_in", "h_out"), ("c_in", "c_out"))


def model_bounds(spec: IOSpec) -> tuple[np.ndarray, np.ndarray]:
    """Command limits in model units (``command = offset + scale * action``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (spec.low - spec.offset) / spec.scale
        b = (spec.high - spec.offset) / spec.scale
    return np.minimum(a, b), np.maximum(a, b)


class PlanningModel:
    """A planning bundle (``metadata.planning`` set) with its filtered recurrent state.

    ``shards > 1`` splits the ``batch`` candidates into that many slices, rolled out by concurrent
    calls of the one session from a thread pool (onnxruntime releases the GIL while it runs). On a
    multi-core CPU this beats onnxruntime's own intra-op threads for these narrow products
    (BENCHMARKS.md). Every shard filters the state the same way; shard 0's is kept. Results equal
    the unsharded rollout's to float32 rounding.
    """

    def __init__(
        self, session: ort.InferenceSession, metadata: BundleMetadata, path: str | Path, shards: int = 1
    ) -> None:
        plan = metadata.planning
        self.path = Path(path)
        if plan is None:
            raise BundleError(
                f"{self.path.name}: not a planning bundle (a {metadata.kind} bundle without a 'planning' "
                "section); export one with 'rnn-control export CHECKPOINT --planning K H'"
            )
        self.session, self.metadata, self.plan = session, metadata, plan
        want_in, want_out = planning_io(metadata)
        found_in = {i.name: i for i in session.get_inputs()}
        found_out = {o.name for o in session.get_outputs()}
        if set(found_in) != set(want_in) or not set(want_out) <= found_out:
            raise BundleError(
                f"{self.path.name}: graph inputs {sorted(found_in)} / outputs {sorted(found_out)} are not "
                f"a planning graph's ({sorted(want_in)} -> {sorted(want_out)})"
            )
        for name, shape in want_in.items():
            got = tuple(found_in[name].shape)
            if len(got) != len(shape) or any(isinstance(g, int) and g != s for g, s in zip(got, shape)):
                raise BundleError(
                    f"{self.path.name}: input '{name}' has shape {list(got)}, expected {list(shape)}"
                )
        self.horizon, self.batch, self.members = plan.horizon, plan.batch, plan.members
        self.obs_dim, self.act_dim = metadata.act_dim, len(plan.commands)
        self.spec = IOSpec(metadata.observation[: self.obs_dim], plan.commands)
        self.observation_names = [f.name for f in metadata.observation[: self.obs_dim]]
        self.action_low, self.action_high = model_bounds(self.spec)
        self.shards = self._check_shards(shards, found_in["plan_actions"].shape)
        buf = {n: np.zeros(s, dtype=np.float32) for n, s in {**want_in, **want_out}.items()}
        self._pair, self._first, self._plan_obs = buf["obs"], buf["first"], buf["plan_obs"]
        self.actions: np.ndarray = buf["plan_actions"]
        self._mean, self._pred = buf["plan_mean"], buf["actions"]
        self._states = [(buf[i], buf[o]) for i, o in STATE if i in buf]
        self._values: list[ort.OrtValue] = []
        self._slices, self._bindings = self._bind_shards()
        self._pool = ThreadPoolExecutor(self.shards - 1, "planning") if self.shards > 1 else None
        self._phase = 0
        self.rollouts = 0  # calls since load
        self.reset()

    def _bind_shards(self) -> tuple[list[tuple[slice, np.ndarray, np.ndarray]], list[list[ort.IOBinding]]]:
        """The IO bindings per state phase and shard, over numpy buffers allocated once, and with
        several shards each one's (candidates, actions buffer, predictions buffer)."""
        # one shard binds the full buffers (no copies); several bind their own slices, copied in
        # and out around the calls
        bounds = np.linspace(0, self.batch, self.shards + 1).round().astype(int)
        slices: list[tuple[slice, np.ndarray, np.ndarray]] = []
        bindings: list[list[ort.IOBinding]] = [[], []]  # [phase][shard]
        for shard in range(self.shards):
            if self.shards == 1:
                acts, mean = self.actions, self._mean
            else:
                n = int(bounds[shard + 1] - bounds[shard])
                acts = np.zeros((self.horizon, n, self.act_dim), dtype=np.float32)
                mean = np.zeros((self.horizon, self.members, n, self.obs_dim), dtype=np.float32)
                slices.append((slice(int(bounds[shard]), int(bounds[shard + 1])), acts, mean))
            # shard 0's filtered state and filter prediction are kept; the others' are scratch
            keep = shard == 0
            pred = self._pred if keep else np.zeros_like(self._pred)
            scratch = [np.zeros_like(pair[0]) for pair in self._states]
            for phase in (0, 1):
                binding = self.session.io_binding()
                for name, value in (("obs", self._pair), ("first", self._first), ("plan_obs", self._plan_obs),
                                    ("plan_actions", acts)):  # fmt: skip
                    binding.bind_ortvalue_input(name, self._wrap(value))
                binding.bind_ortvalue_output("actions", self._wrap(pred))
                binding.bind_ortvalue_output("plan_mean", self._wrap(mean))
                for i, ((name_in, name_out), pair) in enumerate(zip(STATE, self._states)):
                    binding.bind_ortvalue_input(name_in, self._wrap(pair[phase]))
                    out = pair[1 - phase] if keep else scratch[i]
                    binding.bind_ortvalue_output(name_out, self._wrap(out))
                bindings[phase].append(binding)
        return slices, bindings

    def _check_shards(self, shards: int, actions_shape: Sequence[Any]) -> int:
        if not (isinstance(shards, int) and 1 <= shards <= self.batch):
            raise BundleError(f"{self.path.name}: shards must be in 1..{self.batch}, got {shards}")
        if shards > 1 and isinstance(actions_shape[CANDIDATE_AXIS["plan_actions"]], int):
            raise BundleError(
                f"{self.path.name}: its graph has a fixed candidate axis ({self.batch}), so it cannot be "
                "split into shards; re-export it with this version of 'rnn-control export --planning'"
            )
        return shards

    @classmethod
    def load(
        cls,
        path: str | Path,
        providers: str | Sequence[str] = "cpu",
        intra_op_threads: int = 1,
        provider_options: dict[str, dict[str, Any]] | None = None,
        shards: int = 1,
    ) -> PlanningModel:
        """Open a planning bundle (``providers`` and threads as for :meth:`Stepper.load`;
        ``shards``: see the class)."""
        session, _ = open_session(path, providers, intra_op_threads, provider_options)
        return cls(session, metadata_for_session(session, path), path, shards)

    def _wrap(self, buffer: np.ndarray) -> ort.OrtValue:
        value = ort.OrtValue.ortvalue_from_numpy(buffer)
        self._values.append(value)
        return value

    # ------------------------------------------------------------------ one tick
    def begin(self, obs: np.ndarray | Sequence[float]) -> None:
        """Start a tick at the real observation ``obs [o]`` (raw units, model order)."""
        self._plan_obs[0] = np.asarray(obs, dtype=np.float32).reshape(-1)

    def rollout(self) -> np.ndarray:
        """Predict the candidates in :attr:`actions`: ``[H, E, N, o]`` (the bound output buffer,
        overwritten by the next call)."""
        bindings = self._bindings[self._phase]
        try:
            if self._pool is None:
                self._run(bindings[0])
            else:
                for part, acts, _ in self._slices:
                    acts[...] = self.actions[:, part]
                pending = [self._pool.submit(self._run, b) for b in bindings[1:]]
                self._run(bindings[0])
                for job in pending:
                    job.result()
                for part, _, mean in self._slices:
                    self._mean[:, :, part] = mean
        except Exception as exc:  # onnxruntime raises its own pybind types
            raise BundleError(
                f"{self.path.name}: onnxruntime failed to run the planning graph: {exc}"
            ) from None
        self.rollouts += 1
        return self._mean

    def _run(self, binding: ort.IOBinding) -> None:
        binding.synchronize_inputs()
        self.session.run_with_iobinding(binding)

    def commit(self, action: np.ndarray | Sequence[float]) -> None:
        """End the tick: ``action`` (model units) was executed. Keeps the state filtered by the last
        rollout and queues (observation, action) for the next tick's filter step."""
        self._phase ^= 1
        o = self.obs_dim
        self._pair[0, :o] = self._plan_obs[0]
        self._pair[0, o:] = np.asarray(action, dtype=np.float32).reshape(-1)
        self._first[0, 0] = 0.0

    def reset(self) -> None:
        """New episode (or after a fault): zero state, and the next tick does not filter."""
        for a, b in self._states:
            a.fill(0.0)
            b.fill(0.0)
        self._pair.fill(0.0)
        self._first[0, 0] = 1.0

    # ------------------------------------------------------------------ inspection
    def filtered_state(self) -> tuple[np.ndarray, ...]:
        """Copies of the state the last rollout filtered (``[layers, members, hidden]`` each)."""
        return tuple(pair[1 - self._phase].copy() for pair in self._states)

    def filter_prediction(self) -> np.ndarray:
        """Each member's one-step prediction of the current observation, from the last rollout."""
        return self._pred.copy()

    def state_is_finite(self) -> bool:
        """The state the next rollout starts from holds no NaN/inf."""
        return all(np.isfinite(pair[self._phase]).all() for pair in self._states)

    def __repr__(self) -> str:
        m = self.metadata
        return (
            f"PlanningModel({self.path.name}: {m.cell} {m.num_layers}x{m.hidden_size}, "
            f"{self.members} member(s), batch {self.batch} x horizon {self.horizon}, {self.shards} shard(s))"
        )
