"""The scenario's ``mpc.cost`` compiled against a bundle's field names into a vectorised cost.

:class:`Cost` is called once per planner iteration with every candidate's predicted observations
``[H, M, o]`` and planned actions ``[H, M, a]`` (model units) and returns one cost per candidate
``[M]``; candidates whose prediction is not finite get ``inf`` (the planners discard them).
Observation terms are evaluated on the predicted observation after each step, action terms on
each planned action; step ``k`` (0-based) is weighted ``discount^k``, the last step's observation
terms also ``terminal_weight``. The term kinds are documented in :mod:`rnn_control.scenario.mpc`.

A custom cost (``function: "package.module:name"``) is imported at compile time and called as
``name(obs, actions, context) -> [M]`` with the arrays above and a :class:`CostContext` (the
current observation, the last command, dt, the field index); its result is added to the terms.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rnn_control.errors import ConfigError
from rnn_control.scenario.mpc import CostConfig, CostTerm

TWO_PI = 2.0 * float(np.pi)


@dataclass
class CostContext:
    """What a custom cost gets besides the arrays."""

    obs0: np.ndarray  # [o] the current real observation
    prev_action: np.ndarray  # [a] the last command sent (model units)
    dt: float  # seconds per step
    observation_names: list[str]
    action_names: list[str]

    def column(self, name: str) -> int:
        """Index of an observation field, else of an action field (``KeyError`` naming it)."""
        for names in (self.observation_names, self.action_names):
            if name in names:
                return names.index(name)
        raise KeyError(
            f"no field '{name}' (observations {self.observation_names}, actions {self.action_names})"
        )


CustomCost = Callable[[np.ndarray, np.ndarray, CostContext], np.ndarray]


def wrap(x: np.ndarray) -> np.ndarray:
    """Angles to ``[-pi, pi)``."""
    return (x + np.pi) % TWO_PI - np.pi


def wrap_near(d: np.ndarray) -> np.ndarray:
    """Angle differences to ``[-pi, pi]``, in place (the difference of two angles in ``[-pi, pi]``
    lies in ``[-2 pi, 2 pi]``: one rounding step is exact and cheaper than a modulo)."""
    d -= TWO_PI * np.rint(d * (1.0 / TWO_PI))
    return d


def load_function(spec: str, where: str = "mpc.cost.function") -> CustomCost:
    """Import ``"module:function"``; ``ConfigError`` saying what is missing."""
    module_name, _, name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import module '{module_name}' ({exc})") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"{where}: module '{module_name}' has no function '{name}'")
    return fn


class Cost:
    """Compiled cost: ``cost(obs [H, M, o], actions [H, M, a], obs0 [o], prev_action [a]) -> [M]``."""

    def __init__(
        self,
        config: CostConfig,
        observation_names: Sequence[str],
        action_names: Sequence[str],
        dt: float,
        where: str = "mpc.cost",
    ) -> None:
        self.config = config
        self.observation_names, self.action_names = list(observation_names), list(action_names)
        self.dt = float(dt)
        if not config.terms and not config.function:
            raise ConfigError(f"{where}: no terms and no function: give the planner something to minimise")
        self._terms = [self._compile(t, f"{where}.terms[{i}]") for i, t in enumerate(config.terms)]
        self.function = load_function(config.function, f"{where}.function") if config.function else None
        self._weights: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ compile
    def _locate(self, name: str, where: str) -> tuple[str, int]:
        if name in self.observation_names:
            return "obs", self.observation_names.index(name)
        if name in self.action_names:
            return "act", self.action_names.index(name)
        raise ConfigError(
            f"{where}: unknown field '{name}'; the bundle has observation fields {self.observation_names} "
            f"and command fields {self.action_names}"
        )

    def _compile(self, term: CostTerm, where: str) -> tuple[str, Callable]:
        located = [self._locate(n, where) for n in term.names]
        kinds = {k for k, _ in located}
        if len(kinds) > 1:
            raise ConfigError(f"{where}: fields {term.names} mix observations and commands")
        side, cols = kinds.pop(), tuple(c for _, c in located)
        from_pair = len(cols) == 2 and term.kind in ("angle", "rate")
        if side == "act" and from_pair:
            raise ConfigError(f"{where}: an angle from [cos, sin] needs observation fields")
        is_angle = term.angle or from_pair or term.kind == "angle"
        w, target = float(term.weight), float(term.target)  # Python floats keep the arrays' dtype
        inv_dt = 1.0 / self.dt

        def value(x: np.ndarray, cache: dict) -> np.ndarray:  # [.., M] of the term's quantity
            if not from_pair:
                return x[..., cols[0]]
            key = (id(x), cols)  # atan2 once per call for every term reading the same pair
            if key not in cache:
                cache[key] = np.arctan2(x[..., cols[1]], x[..., cols[0]])
            return cache[key]

        if term.kind == "distance":

            def fn(x: np.ndarray, first: np.ndarray, cache: dict) -> np.ndarray:
                return w * np.sqrt(np.sum(np.square(x[..., list(cols)] - target), axis=-1))
        elif term.kind == "rate":

            def fn(x: np.ndarray, first: np.ndarray, cache: dict) -> np.ndarray:
                v = value(x, cache)
                d = np.diff(v, axis=0, prepend=np.broadcast_to(value(first, cache), v[:1].shape))
                if is_angle:
                    d = wrap_near(d)
                d *= inv_dt
                return w * np.square(d, out=d)
        elif term.kind == "barrier":
            lo = -np.inf if term.low is None else float(term.low)
            hi = np.inf if term.high is None else float(term.high)

            def fn(x: np.ndarray, first: np.ndarray, cache: dict) -> np.ndarray:
                v = value(x, cache)
                return w * (np.square(np.maximum(lo - v, 0.0)) + np.square(np.maximum(v - hi, 0.0)))
        elif term.kind == "linear":

            def fn(x: np.ndarray, first: np.ndarray, cache: dict) -> np.ndarray:
                return w * (value(x, cache) - target)
        else:  # quadratic, angle

            def fn(x: np.ndarray, first: np.ndarray, cache: dict) -> np.ndarray:
                v = value(x, cache)
                d = v - target
                if is_angle and (target != 0 or not from_pair):  # atan2 is already in [-pi, pi]
                    d = wrap(d)
                return w * np.square(d, out=d)

        return side, fn

    # ------------------------------------------------------------------ evaluate
    def step_weights(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """``(observation, action)`` weights per step ``[H, 1]``: discount, terminal weight."""
        if horizon not in self._weights:
            disc = self.config.discount ** np.arange(horizon, dtype=np.float64)
            obs_w = disc.copy()
            obs_w[-1] *= self.config.terminal_weight
            self._weights[horizon] = (obs_w[:, None], disc[:, None])
        return self._weights[horizon]

    def __call__(
        self, obs: np.ndarray, actions: np.ndarray, obs0: np.ndarray, prev_action: np.ndarray
    ) -> np.ndarray:
        """One cost per candidate ``[M]`` (``inf`` where the prediction is not finite)."""
        horizon, m = obs.shape[:2]
        obs_w, act_w = self.step_weights(horizon)
        cache: dict = {}
        per_obs = per_act = None
        with np.errstate(invalid="ignore", over="ignore"):
            for side, fn in self._terms:
                if side == "obs":
                    c = fn(obs, obs0, cache)
                    per_obs = c if per_obs is None else per_obs + c
                else:
                    c = fn(actions, prev_action, cache)
                    per_act = c if per_act is None else per_act + c
            total = np.zeros(m, dtype=np.float64)
            if per_obs is not None:
                total += np.einsum("hm,h->m", per_obs, obs_w[:, 0].astype(per_obs.dtype), dtype=np.float64)
            if per_act is not None:
                total += np.einsum("hm,h->m", per_act, act_w[:, 0].astype(per_act.dtype), dtype=np.float64)
            if self.function is not None:
                ctx = CostContext(obs0, prev_action, self.dt, self.observation_names, self.action_names)
                extra = np.asarray(self.function(obs, actions, ctx), dtype=np.float64).reshape(-1)
                if extra.shape != (m,):
                    raise ConfigError(
                        f"mpc.cost.function {self.config.function}: returned shape {list(extra.shape)}, "
                        f"expected [{m}] (one cost per candidate)"
                    )
                total = total + extra
            # one reduction per candidate finds NaN/inf anywhere in its prediction (an overflowing
            # sum counts as non-finite too: conservative)
            h, mm, o = obs.shape
            sums = obs.reshape(h, mm * o).sum(axis=0).reshape(mm, o).sum(axis=1)  # fast axis order
            bad = ~np.isfinite(sums) | ~np.isfinite(total)
        total[bad] = np.inf
        return total
