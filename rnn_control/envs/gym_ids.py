"""Gymnasium ids for the project's scenarios: after :func:`register_scenario_envs`,
``gymnasium.make("rnn_control/PendulumNoVel-v0")`` builds the scenario's env with all its
wrappers, exactly as the trainers do. Registration is explicit: nothing registers on import.

To add one: ship ``sim/<name>.yaml`` and add a line to :data:`SCENARIO_IDS`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from rnn_control.envs.factory import make_env
from rnn_control.scenario import load_scenario

NAMESPACE = "rnn_control"

# Gymnasium id (without namespace) -> shipped scenario name (sim/<name>.yaml)
SCENARIO_IDS: dict[str, str] = {
    "PendulumNoVel-v0": "pendulum_novel",
    "CartPoleNoVel-v0": "cartpole_novel",
    "InvertedPendulumNoVel-v0": "inverted_pendulum_novel",
    "InvertedPendulumSim2Real-v0": "inverted_pendulum_sim2real",
}


class ScenarioEnv(gym.Env):
    """A scenario's whole wrapper stack presented as one plain ``gym.Env``.

    Gymnasium records the wrappers applied *after* ``gym.make`` in ``env.spec`` to recreate an
    env; the scenario's wrappers are part of what the id means, so they are hidden inside this
    env (reach them through :attr:`inner`) and ``gym.make(env.spec)`` rebuilds the same thing.
    """

    def __init__(self, scenario: str, render_mode: str | None = None, **env_overrides: Any) -> None:
        sc = load_scenario(scenario, {"env": env_overrides} if env_overrides else None)
        self.scenario = sc
        self.inner = make_env(sc.env, render_mode=render_mode)
        self.observation_space = self.inner.observation_space
        self.action_space = self.inner.action_space
        self.metadata = self.inner.metadata
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        return self.inner.reset(seed=seed, options=options)

    def step(self, action):
        return self.inner.step(action)

    def render(self):
        return self.inner.render()

    def close(self) -> None:
        self.inner.close()


def make_scenario_env(scenario: str, render_mode: str | None = None, **env_overrides: Any) -> gym.Env:
    """Entry point of the registered ids: the scenario's env (wrappers applied, not vectorised).

    ``env_overrides`` are merged over the scenario's ``env:`` section (e.g. ``wrappers=[...]``).
    """
    return ScenarioEnv(scenario, render_mode=render_mode, **env_overrides)


def register_scenario_envs() -> None:
    """Register every entry of :data:`SCENARIO_IDS` with Gymnasium (idempotent)."""
    for env_id, scenario in SCENARIO_IDS.items():
        full = f"{NAMESPACE}/{env_id}"
        if full not in gym.registry:
            gym.register(
                full, entry_point=make_scenario_env, kwargs={"scenario": scenario}, disable_env_checker=True
            )
