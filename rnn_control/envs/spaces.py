"""Gymnasium spaces as the plain mappings that checkpoints store (``spaces`` entry)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from rnn_control.errors import ConfigError


def describe_spaces(obs_space: gym.Space, act_space: gym.Space) -> dict[str, Any]:
    """The ``spaces`` entry of a checkpoint (plain lists, JSON-able); what
    ``rnn_control.contract.bundle_layout`` takes to lay out a bundle."""
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise ConfigError(f"env: policies need a flat Box observation space, got {obs_space}")
    obs = {"shape": list(obs_space.shape), "low": obs_space.low.tolist(), "high": obs_space.high.tolist()}
    if isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
        act = {
            "type": "box",
            "shape": list(act_space.shape),
            "low": act_space.low.tolist(),
            "high": act_space.high.tolist(),
        }
    elif isinstance(act_space, gym.spaces.Discrete):
        act = {"type": "discrete", "n": int(act_space.n)}
    else:
        raise ConfigError(f"env: policies need a flat Box or a Discrete action space, got {act_space}")
    return {"observation": obs, "action": act}


def declared_layout(env: gym.Env) -> dict[str, Any] | None:
    """The layout an env declares (``io_fields``: ``{"observation": [...], "action": [...]}`` of
    field mappings, passed through every wrapper), or ``None`` when it declares none."""
    try:
        fields = env.get_wrapper_attr("io_fields")
    except AttributeError:
        return None
    return fields or None


def describe_env(env: gym.Env) -> dict[str, Any]:
    """:func:`describe_spaces` of ``env``, plus ``"fields"``: the layout it declares, if any
    (what ``rnn_control.contract.bundle_layout`` lays a bundle out from). ``ConfigError`` when
    the declaration no longer fits the spaces (a wrapper changed the observation without mapping
    the declared layout)."""
    spaces = describe_spaces(env.observation_space, env.action_space)
    fields = declared_layout(env)
    if fields is not None:
        n_obs, n_act = len(fields.get("observation", ())), len(fields.get("action", ()))
        obs_dim = spaces["observation"]["shape"][0]
        act = spaces["action"]
        act_dim = act["shape"][0] if act["type"] == "box" else 1
        if (n_obs, n_act) != (obs_dim, act_dim):
            raise ConfigError(
                f"env: it declares {n_obs} observation and {n_act} action fields (io_fields) but its spaces "
                f"have {obs_dim} and {act_dim} entries: a wrapper changed the observation or action "
                "without mapping the declared layout"
            )
        spaces["fields"] = {"observation": list(fields["observation"]), "action": list(fields["action"])}
    privileged = privileged_space(env)
    if privileged is not None:  # what an asymmetric critic may read in training (never deployed)
        spaces["privileged_observation"] = {"shape": list(privileged.shape)}
    return spaces


def privileged_space(env: gym.Env) -> gym.spaces.Box | None:
    """The space of ``info["privileged_obs"]`` when a ``privileged_obs`` wrapper provides it."""
    try:
        return env.get_wrapper_attr("privileged_space")
    except AttributeError:
        return None
