"""A deployed bundle driving its own scenario in-process: the reference for closed loops over ROS."""

from __future__ import annotations

from pathlib import Path

from rnn_control.envs.actions import command_to_env_action
from rnn_control.envs.factory import make_env
from rnn_control.runtime import Controller, read_bundle_metadata
from rnn_control.scenario import scenario_from_dict


def bundle_returns(bundle: str | Path, episodes: int, seed: int = 0, dt: float | None = None) -> list[float]:
    """Episode returns of ``bundle`` stepped by the torch-free runtime in the scenario stored in its
    metadata; episode k is reset with ``seed + k``, as the sim bridge does.

    Time-aware bundles get ``dt``: how long the step that produced the observation lasted
    (``info["dt"]``, e.g. from the dt_jitter wrapper), which is what the policy node takes from
    the sensor stamps; ``dt`` given here replaces it by a constant (to see what the wrong dt costs).
    """
    controller = Controller.load(bundle)
    spec = controller.spec
    env = make_env(scenario_from_dict(read_bundle_metadata(bundle).scenario).env)
    returns = []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        controller.reset()
        total, done = 0.0, False
        while not done:
            command = controller.step(obs, dt or info.get("dt"))
            action = command_to_env_action(command, env.action_space, spec.scale, spec.offset)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns
