"""Exploration policies that drive the environments while dynamics data is collected.

All act on a batch of ``num_envs`` observations at once and return actions inside the Box
action space. ``reset(mask)`` tells them which environments just started a new episode.

- ``random``: uniform in the action box (white noise; the classic, but it barely moves an
  underactuated system away from its rest state);
- ``pink``: coloured noise with a ``1/f^beta`` spectrum (temporally correlated, so the system
  is pushed further; see Eberhard et al., "Pink noise is all you need", ICLR 2023);
- ``ou``: Ornstein-Uhlenbeck noise (correlated, mean-reverting);
- ``scripted``: a hand-written controller plus OU noise (energy-based swing-up with a PD
  catch for Pendulum-v1), so the data also covers the states a good policy visits;
- ``mixed``: the environments are split round-robin among the policies above.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnn_control.errors import ConfigError


class ExplorationPolicy:
    """Base class: ``act(obs [N, o]) -> actions [N, a]`` and ``reset(mask [N])``."""

    def __init__(self, low: np.ndarray, high: np.ndarray, num_envs: int, rng: np.random.Generator) -> None:
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        self.mid = (self.high + self.low) / 2
        self.half = (self.high - self.low) / 2
        self.num_envs = num_envs
        self.rng = rng

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions ``[N, a]`` inside the box for observations ``obs [N, o]``."""
        raise NotImplementedError

    def reset(self, mask: np.ndarray) -> None:
        """Forget per-episode memory of the environments where ``mask`` is True."""

    def _scale(self, unit: np.ndarray) -> np.ndarray:
        return np.clip(self.mid + self.half * unit, self.low, self.high)


class RandomPolicy(ExplorationPolicy):
    """Uniform in the action box, independently every step (white noise)."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions ``[N, a]`` inside the box for observations ``obs [N, o]``."""
        return self.rng.uniform(self.low, self.high, size=(self.num_envs, self.low.size))


class OUNoisePolicy(ExplorationPolicy):
    """Ornstein-Uhlenbeck process with stationary std ``sigma`` (fraction of the half-range)."""

    def __init__(
        self, low: np.ndarray, high: np.ndarray, num_envs: int, rng: np.random.Generator,
        sigma: float = 0.5, theta: float = 0.15,
    ) -> None:  # fmt: skip
        super().__init__(low, high, num_envs, rng)
        self.sigma, self.theta = sigma, theta
        self.x = np.zeros((num_envs, self.low.size))

    def noise(self) -> np.ndarray:
        """The next OU sample ``[N, a]`` in units of the half-range."""
        kick = self.sigma * np.sqrt(2 * self.theta) * self.rng.standard_normal(self.x.shape)
        self.x = self.x - self.theta * self.x + kick
        return self.x

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions ``[N, a]`` inside the box for observations ``obs [N, o]``."""
        return self._scale(self.noise())

    def reset(self, mask: np.ndarray) -> None:
        """Forget per-episode memory of the environments where ``mask`` is True."""
        self.x[mask] = self.sigma * self.rng.standard_normal((int(mask.sum()), self.low.size))


class PinkNoisePolicy(ExplorationPolicy):
    """``1/f^beta`` noise, generated in blocks by shaping white noise in the frequency domain."""

    def __init__(
        self, low: np.ndarray, high: np.ndarray, num_envs: int, rng: np.random.Generator,
        sigma: float = 0.5, beta: float = 1.0, block: int = 1024,
    ) -> None:  # fmt: skip
        super().__init__(low, high, num_envs, rng)
        self.sigma, self.beta, self.block = sigma, beta, block
        self.buf = np.zeros((num_envs, block, self.low.size))
        self.pos = np.full(num_envs, block)

    def _refill(self, i: int) -> None:
        freqs = np.fft.rfftfreq(self.block)
        freqs[0] = freqs[1]
        shape = freqs ** (-self.beta / 2)
        spec = self.rng.standard_normal((self.low.size, freqs.size)) + 1j * self.rng.standard_normal(
            (self.low.size, freqs.size)
        )
        x = np.fft.irfft(spec * shape, n=self.block, axis=-1)
        x = (x - x.mean(-1, keepdims=True)) / (x.std(-1, keepdims=True) + 1e-8)
        self.buf[i] = x.T
        self.pos[i] = 0

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions ``[N, a]`` inside the box for observations ``obs [N, o]``."""
        out = np.empty((self.num_envs, self.low.size))
        for i in range(self.num_envs):
            if self.pos[i] >= self.block:
                self._refill(i)
            out[i] = self.buf[i, self.pos[i]]
            self.pos[i] += 1
        return self._scale(self.sigma * out)

    def reset(self, mask: np.ndarray) -> None:
        """Forget per-episode memory of the environments where ``mask`` is True."""
        self.pos[mask] = self.block  # a fresh, independent block for every episode


class PendulumSwingUp(ExplorationPolicy):
    """Energy pumping until near the top, then a PD catch, plus OU noise (Pendulum-v1).

    Works with the full observation ``(cos, sin, theta_dot)`` and with the velocity-masked one
    ``(cos, sin)``: then the velocity is estimated by a finite difference of the angle.
    """

    def __init__(
        self, low: np.ndarray, high: np.ndarray, num_envs: int, rng: np.random.Generator,
        dt: float = 0.05, sigma: float = 0.3, theta: float = 0.15,
    ) -> None:  # fmt: skip
        super().__init__(low, high, num_envs, rng)
        self.dt = dt
        self.noise = OUNoisePolicy(low, high, num_envs, rng, sigma, theta)
        self.prev_angle = np.full(num_envs, np.nan)
        # Per-environment gains, so different episodes see different closed loops.
        self.pump_gain = rng.uniform(0.5, 2.0, num_envs)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions ``[N, a]`` inside the box for observations ``obs [N, o]``."""
        angle = np.arctan2(obs[:, 1], obs[:, 0])
        if obs.shape[1] >= 3:
            vel = obs[:, 2]
        else:
            diff = np.angle(np.exp(1j * (angle - self.prev_angle))) / self.dt
            vel = np.where(np.isnan(self.prev_angle), 0.0, diff)
        self.prev_angle = angle
        # Energy relative to upright (g = 10, l = 1, m = 1 in Pendulum-v1; max speed 8).
        energy = 0.5 * vel**2 / 15.0 + np.cos(angle) - 1.0
        pump = -self.pump_gain * energy * np.sign(vel + 1e-3)
        catch = -(10.0 * angle + 1.0 * vel)
        u = np.where(np.cos(angle) > 0.85, catch, pump * 2.0)
        unit = u[:, None] / self.half + self.noise.noise()
        return self._scale(unit)

    def reset(self, mask: np.ndarray) -> None:
        """Forget per-episode memory of the environments where ``mask`` is True."""
        self.prev_angle[mask] = np.nan
        self.noise.reset(mask)


SCRIPTED: dict[str, type[ExplorationPolicy]] = {"Pendulum-v1": PendulumSwingUp}


class MixedPolicy(ExplorationPolicy):
    """Environments split round-robin among several policies."""

    def __init__(
        self, low: np.ndarray, high: np.ndarray, num_envs: int, rng: np.random.Generator,
        makers: list[Callable[[int], ExplorationPolicy]],
    ) -> None:  # fmt: skip
        super().__init__(low, high, num_envs, rng)
        self.groups = [np.arange(i, num_envs, len(makers)) for i in range(len(makers))]
        self.policies = [make(len(g)) for make, g in zip(makers, self.groups) if len(g)]
        self.groups = [g for g in self.groups if len(g)]

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions ``[N, a]`` inside the box for observations ``obs [N, o]``."""
        out = np.empty((self.num_envs, self.low.size))
        for g, p in zip(self.groups, self.policies):
            out[g] = p.act(obs[g])
        return out

    def reset(self, mask: np.ndarray) -> None:
        """Forget per-episode memory of the environments where ``mask`` is True."""
        for g, p in zip(self.groups, self.policies):
            p.reset(mask[g])


def make_exploration(
    name: str,
    env_id: str,
    low: np.ndarray,
    high: np.ndarray,
    num_envs: int,
    seed: int,
    noise_scale: float = 0.5,
    pink_beta: float = 1.0,
    ou_theta: float = 0.15,
    dt: float = 0.05,
) -> ExplorationPolicy:
    """Build the exploration policy ``name`` for ``num_envs`` copies of env ``env_id``."""
    rng = np.random.default_rng(seed)
    makers = {
        "random": lambda n: RandomPolicy(low, high, n, rng),
        "pink": lambda n: PinkNoisePolicy(low, high, n, rng, noise_scale, pink_beta),
        "ou": lambda n: OUNoisePolicy(low, high, n, rng, noise_scale, ou_theta),
    }
    if env_id in SCRIPTED:
        makers["scripted"] = lambda n: SCRIPTED[env_id](low, high, n, rng, dt=dt)
    if name == "mixed":
        return MixedPolicy(low, high, num_envs, rng, list(makers.values()))
    if name not in makers:
        if name == "scripted":
            raise ConfigError(
                f"dynamics.exploration: no scripted controller for '{env_id}' (have: {', '.join(SCRIPTED)}); "
                "choose random, pink, ou or mixed"
            )
        raise ConfigError(
            f"dynamics.exploration: unknown policy '{name}'; choose one of: {', '.join(makers)}, mixed"
        )
    return makers[name](num_envs)
