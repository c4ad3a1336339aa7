"""The stateful stepper: one bundle, one recurrent state, one ``step`` per control tick.

All tensors are preallocated at load time and bound to the session once (onnxruntime IO
binding over numpy memory): a step copies the observation into the bound input and runs the
graph. The state is double-buffered (two bindings, ``h_in``/``h_out`` swapped between them, used
alternately), so it is never copied. Nothing is allocated on the step path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from rnn_control.contract.metadata import BundleMetadata
from rnn_control.contract.tensors import STATE_PAIRS
from rnn_control.errors import BundleError
from rnn_control.runtime.finite import sum_of_squares
from rnn_control.runtime.session import check_io, metadata_for_session, open_session


class ObservationError(BundleError, ValueError):
    """An observation does not fit the bundle (wrong length)."""


class Stepper:
    """Step an ONNX bundle (policy or dynamics model) with its recurrent state.

    >>> stepper = Stepper.load("model.onnx")
    >>> output = stepper.step(obs)           # raw model output, float32 [act_dim]
    >>> stepper.reset()                      # new episode: zero state
    """

    def __init__(
        self, session: ort.InferenceSession, metadata: BundleMetadata, path: str | Path, provider: str
    ) -> None:
        self.session = session
        self.metadata = metadata
        self.path = Path(path)
        self.provider = provider
        specs = check_io(session, metadata, self.path)
        buffers = {name: np.zeros(s.shape, dtype=s.dtype) for name, s in specs.items()}
        # The recurrent state is double-buffered: binding 0 reads state buffers A and writes B,
        # binding 1 reads B and writes A. Steps alternate bindings, so the state never gets copied.
        state_names = [(i, o) for i, o in STATE_PAIRS if i in specs]
        self._state_buffers = [(buffers[i], np.zeros_like(buffers[i])) for i, _ in state_names]
        # The output and both state copies live in one pool laid out [A | actions | B], so the
        # output and the state a step just wrote are one contiguous view: one reduction checks both.
        self._written = self._pool_output_and_state(buffers)
        self._obs_row = buffers["obs"][0]
        self._action_row = buffers["actions"][0]
        self._dt = buffers.get("dt")
        self._std = buffers.get("std")
        self._values: list[ort.OrtValue] = []  # keep the OrtValues alive as long as the bindings
        self._bindings = []
        for phase in (0, 1):
            binding = session.io_binding()
            for name in ("obs", "dt"):
                if name in buffers:
                    binding.bind_ortvalue_input(name, self._wrap(buffers[name]))
            for name in ("actions", "std"):
                if name in buffers:
                    binding.bind_ortvalue_output(name, self._wrap(buffers[name]))
            for (name_in, name_out), pair in zip(state_names, self._state_buffers):
                binding.bind_ortvalue_input(name_in, self._wrap(pair[phase]))
                binding.bind_ortvalue_output(name_out, self._wrap(pair[1 - phase]))
            self._bindings.append(binding)
        self._phase = 0
        self._run_options = ort.RunOptions()
        raw_session = getattr(session, "_sess", None)
        if hasattr(raw_session, "run_with_iobinding") and hasattr(self._bindings[0], "_iobinding"):
            # The C++ call directly: skips one Python wrapper layer per step.
            self._run = raw_session.run_with_iobinding
            self._raw_bindings = [b._iobinding for b in self._bindings]
        else:  # pragma: no cover - other onnxruntime versions
            self._run = session.run_with_iobinding
            self._raw_bindings = self._bindings
        self._default_dt = float(metadata.control_period)
        self.obs_dim = metadata.obs_dim
        self.act_dim = metadata.act_dim

    @classmethod
    def load(
        cls,
        path: str | Path,
        providers: str | Sequence[str] = "auto",
        intra_op_threads: int = 1,
        sidecar: str | Path | None = None,
        provider_options: dict[str, dict[str, Any]] | None = None,
    ) -> Stepper:
        """Open a bundle. ``providers``: ``"auto"`` (TensorRT > CUDA > CPU), ``"cpu"``, ``"cuda"``,
        ``"tensorrt"`` or a list; unavailable ones fall back to CPU with a warning.
        ``sidecar``: YAML IO description for bundles without rnn_control metadata (found next to
        the file automatically as ``<name>.yaml``). ``provider_options``: per-provider options,
        e.g. ``{"TensorrtExecutionProvider": {"trt_engine_cache_enable": True, ...}}``.
        """
        session, used = open_session(path, providers, intra_op_threads, provider_options)
        meta = metadata_for_session(session, path, sidecar)
        return cls(session, meta, path, used)

    # ------------------------------------------------------------------ stepping
    def step(self, obs: np.ndarray | Sequence[float], dt: float | None = None) -> np.ndarray:
        """One tick. ``obs``: ``[obs_dim]`` (or ``[1, obs_dim]``) in raw units; ``dt``: seconds
        since the previous step (time-aware bundles; default: the control period).

        Returns the raw model output ``[act_dim]`` (float32). The array is the stepper's output
        buffer, overwritten by the next step: copy it to keep it.
        """
        obs = np.asarray(obs)
        if obs.size != self.obs_dim:
            raise ObservationError(
                f"{self.path.name}: observation has {obs.size} values (shape {list(obs.shape)}), "
                f"expected {self.obs_dim} ({', '.join(f.name for f in self.metadata.observation)})"
            )
        self._obs_row[:] = obs.reshape(-1)
        return self.run(dt)

    @property
    def input(self) -> np.ndarray:
        """The bound observation buffer (float32 ``[obs_dim]``). Writing it and calling :meth:`run`
        is :meth:`step` without the copy and the checks (what :class:`Controller` does)."""
        return self._obs_row

    def run(self, dt: float | None = None) -> np.ndarray:
        """Step on the observation already in :attr:`input`; returns the output buffer like :meth:`step`."""
        if self._dt is not None:
            self._dt[0, 0] = self._default_dt if dt is None else dt
        try:
            self._run(self._raw_bindings[self._phase], self._run_options)
        except Exception as exc:  # onnxruntime raises its own pybind types
            raise BundleError(f"{self.path.name}: onnxruntime failed to run the graph: {exc}") from None
        self._phase ^= 1  # the state just written is the next step's input
        return self._action_row

    def _pool_output_and_state(self, buffers: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Re-home ``actions`` and the state buffers in one flat pool; returns, per phase, the view
        over the output and the state the step of that phase writes (one dtype only, else separate
        views and the check falls back to one reduction each)."""
        a_side = [pair[0] for pair in self._state_buffers]
        b_side = [pair[1] for pair in self._state_buffers]
        parts = [*a_side, buffers["actions"], *b_side]
        if len({b.dtype for b in parts}) != 1:
            return []
        pool = np.zeros(sum(b.size for b in parts), dtype=parts[0].dtype)
        views, start = [], 0
        for b in parts:
            views.append(pool[start : start + b.size].reshape(b.shape))
            start += b.size
        n = len(a_side)
        buffers["actions"] = views[n]
        self._state_buffers = list(zip(views[:n], views[n + 1 :]))
        a_end, b_start = sum(b.size for b in a_side), sum(b.size for b in a_side) + buffers["actions"].size
        # after a step the phase has flipped: phase 1 holds the state in B, phase 0 in A
        return [pool[:b_start], pool[a_end:]]

    def output_and_state_finite(self) -> bool:
        """True if the last output and the state it left are all finite (one reduction; values
        whose squares overflow count as non-finite: conservative, and far outside any range)."""
        if self._written:
            view = self._written[self._phase]
            return math.isfinite(sum_of_squares(view))
        return math.isfinite(sum_of_squares(self._action_row)) and self.state_is_finite()

    def _wrap(self, buffer: np.ndarray) -> ort.OrtValue:
        value = ort.OrtValue.ortvalue_from_numpy(buffer)  # shares the numpy memory (CPU)
        self._values.append(value)
        return value

    def _current_state(self) -> list[np.ndarray]:
        return [pair[self._phase] for pair in self._state_buffers]

    def reset(self) -> None:
        """Zero the recurrent state (start of an episode, or after a fault)."""
        for buf in self._current_state():
            buf.fill(0.0)

    @property
    def state(self) -> tuple[np.ndarray, ...]:
        """Copies of the current state, ``(h,)`` or ``(h, c)``, each ``[layers, 1, hidden]``."""
        return tuple(buf.copy() for buf in self._current_state())

    def set_state(self, state: Sequence[np.ndarray]) -> None:
        """Restore a state returned by :attr:`state`."""
        current = self._current_state()
        if len(state) != len(current):
            raise ValueError(f"expected {len(current)} state tensors, got {len(state)}")
        for buf, s in zip(current, state):
            np.copyto(buf, np.asarray(s).reshape(buf.shape))

    def state_is_finite(self) -> bool:
        """True if no state entry is NaN or infinite."""
        return all(math.isfinite(buf.sum()) for buf in self._current_state())

    @property
    def last_std(self) -> np.ndarray | None:
        """Predicted std of the last step (dynamics bundles with a ``std`` output)."""
        return None if self._std is None else self._std[0]

    @property
    def last_output(self) -> np.ndarray:
        return self._action_row

    def warmup(self, steps: int = 50) -> None:
        """Run ``steps`` zero-observation steps, then reset: builds TensorRT engines / CUDA kernels
        before going live. Call it before the first real tick on GPU providers."""
        zeros = np.zeros(self.obs_dim, dtype=np.float32)
        for _ in range(steps):
            self.step(zeros)
        self.reset()

    def __repr__(self) -> str:
        m = self.metadata
        return (
            f"Stepper({self.path.name}: {m.kind} {m.cell} {m.num_layers}x{m.hidden_size}, "
            f"obs {m.obs_dim} -> {m.act_dim}, {self.provider})"
        )

