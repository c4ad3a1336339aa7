"""Gymnasium ids for the project's scenarios: ``gymnasium.make("rnn_control/PendulumNoVel-v0")``
builds the scenario's env with all its wrappers, exactly as the trainers do.

To add one: ship ``sim/<name>.yaml`` and add a line to :data:`SCENARIO_IDS`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

NAMESPACE = "rnn_control"

# Gymnasium id (without namespace) -> shipped scenario name (sim/<name>.yaml)
SCENARIO_IDS: dict[str, str] = {
    "PendulumNoVel-v0": "pendulum_novel",
    "CartPoleNoVel-v0": "cartpole_novel",
    "InvertedPendulumNoVel-v0": "inverted_pendulum_novel",
    "InvertedPendulumSim2Real-v0": "inverted_pendulum_sim2real",
}


def make_scenario_env(scenario: str, render_mode: str | None = None, **env_overrides: Any) -> gym.Env:
    """Entry point of the registered ids: the scenario's env (wrappers applied, not vectorised).

    ``env_overrides`` are merged over the scenario's ``env:`` section (e.g. ``wrappers=[...]``).
    """
    from rnn_control.envs.factory import make_env
    from rnn_control.scenario import load_scenario

    sc = load_scenario(scenario, {"env": env_overrides} if env_overrides else None)
    return make_env(sc.env, render_mode=render_mode)


def register_scenarios() -> None:
    """Register every entry of :data:`SCENARIO_IDS` with Gymnasium (idempotent)."""
    for env_id, scenario in SCENARIO_IDS.items():
        full = f"{NAMESPACE}/{env_id}"
        if full not in gym.registry:
            gym.register(
                full, entry_point=make_scenario_env, kwargs={"scenario": scenario}, disable_env_checker=True
            )
