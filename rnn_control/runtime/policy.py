"""The stateful stepper: one bundle, one recurrent state, one ``step`` per control tick.

All tensors are preallocated at load time and bound to the session once (onnxruntime IO
binding over numpy memory): a step copies the observation into the bound input, runs the graph,
and copies ``h_out`` back into ``h_in``. Nothing is allocated on the step path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from rnn_control.errors import BundleError
from rnn_control.runtime.metadata import BundleMetadata
from rnn_control.runtime.session import check_io, metadata_for_session, open_session


class ObservationError(BundleError, ValueError):
    """An observation does not fit the bundle (wrong length)."""


class Policy:
    """Step an ONNX bundle (policy or dynamics model) with its recurrent state.

    >>> policy = Policy.load("model.onnx")
    >>> action = policy.step(obs)            # raw model output, float32 [act_dim]
    >>> policy.reset()                       # new episode: zero state
    """

    def __init__(
        self, session: ort.InferenceSession, metadata: BundleMetadata, path: str | Path, provider: str
    ) -> None:
        self.session = session
        self.metadata = metadata
        self.path = Path(path)
        self.provider = provider
        specs = check_io(session, metadata, self.path)
        self._buffers = {name: np.zeros(s.shape, dtype=s.dtype) for name, s in specs.items()}
        self._obs = self._buffers["obs"]
        self._obs_row = self._obs[0]
        self._actions = self._buffers["actions"]
        self._action_row = self._actions[0]
        self._dt = self._buffers.get("dt")
        self._std = self._buffers.get("std")
        # (state input, state output) pairs
        self._state_pairs = [
            (self._buffers[i], self._buffers[o])
            for i, o in (("h_in", "h_out"), ("c_in", "c_out"))
            if i in specs
        ]
        self._binding = session.io_binding()
        self._values = {}  # keep OrtValues alive as long as the binding
        for name, buf in self._buffers.items():
            value = ort.OrtValue.ortvalue_from_numpy(buf)
            self._values[name] = value
            if name in ("obs", "h_in", "c_in", "dt"):
                self._binding.bind_ortvalue_input(name, value)
            else:
                self._binding.bind_ortvalue_output(name, value)
        self._run_options = ort.RunOptions()
        raw_session = getattr(session, "_sess", None)
        if hasattr(raw_session, "run_with_iobinding") and hasattr(self._binding, "_iobinding"):
            # The C++ call directly: skips one Python wrapper layer per step.
            self._run = raw_session.run_with_iobinding
            self._raw_binding = self._binding._iobinding
        else:  # pragma: no cover - other onnxruntime versions
            self._run = session.run_with_iobinding
            self._raw_binding = self._binding
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
    ) -> Policy:
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
        if self._dt is not None:
            self._dt[0, 0] = self._default_dt if dt is None else dt
        self._run(self._raw_binding, self._run_options)
        for state_in, state_out in self._state_pairs:
            np.copyto(state_in, state_out)
        return self._action_row

    def reset(self) -> None:
        """Zero the recurrent state (start of an episode, or after a fault)."""
        for state_in, _ in self._state_pairs:
            state_in.fill(0.0)

    @property
    def state(self) -> tuple[np.ndarray, ...]:
        """Copies of the current state, ``(h,)`` or ``(h, c)``, each ``[layers, 1, hidden]``."""
        return tuple(s.copy() for s, _ in self._state_pairs)

    def set_state(self, state: Sequence[np.ndarray]) -> None:
        """Restore a state returned by :attr:`state`."""
        if len(state) != len(self._state_pairs):
            raise ValueError(f"expected {len(self._state_pairs)} state tensors, got {len(state)}")
        for (buf, _), s in zip(self._state_pairs, state):
            np.copyto(buf, np.asarray(s).reshape(buf.shape))

    def state_is_finite(self) -> bool:
        return all(bool(np.isfinite(s).all()) for s, _ in self._state_pairs)

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
            f"Policy({self.path.name}: {m.kind} {m.cell} {m.num_layers}x{m.hidden_size}, "
            f"obs {m.obs_dim} -> {m.act_dim}, {self.provider})"
        )


Stepper = Policy
"""Alias: the stepper works for dynamics bundles too."""
