"""Partial observability: drop the velocity entries of an observation.

Over an env that declares its layout (``io_fields``, e.g. the ``joint_space`` wrapper), the
default keeps every field whose source is not a measured velocity (``joint_state/velocity``,
``imu/angular_velocity``, ``odometry/twist``), and the declaration is mapped to the kept fields.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

# Indices of the observation entries that are NOT velocities, for envs we know.
POSITION_INDICES: dict[str, list[int]] = {
    "Pendulum-v1": [0, 1],  # cos(theta), sin(theta) | theta_dot
    "CartPole-v1": [0, 2],  # x, theta | x_dot, theta_dot
    "InvertedPendulum-v5": [0, 1],  # qpos (cart, pole) | qvel
    "InvertedDoublePendulum-v5": [0, 1, 2, 3, 4, 5, 9, 10],  # x, sin, cos | qvel | constraint forces
    "Reacher-v5": [0, 1, 2, 3, 4, 5, 8, 9],  # cos, sin, target | joint vel | fingertip - target
    "HalfCheetah-v5": list(range(8)),  # qpos[1:] | qvel
    "Hopper-v5": list(range(5)),
    "Walker2d-v5": list(range(8)),
}
VELOCITY_SOURCES = ("joint_state/velocity/", "imu/angular_velocity/", "odometry/twist/")


class MaskVelocity(gym.ObservationWrapper):
    """Keep only the position-like entries of a Box observation (velocities are hidden)."""

    def __init__(self, env: gym.Env, keep: list[int] | None = None) -> None:
        super().__init__(env)
        env_id = env.spec.id if env.spec is not None else None
        try:
            fields = env.get_wrapper_attr("io_fields")
        except AttributeError:
            fields = None
        if keep is None and fields:
            sources = [f["source"] for f in fields["observation"]]
            keep = [i for i, s in enumerate(sources) if not s.startswith(VELOCITY_SOURCES)]
        if keep is None:
            if env_id not in POSITION_INDICES:
                raise ValueError(
                    f"mask_velocity: no default velocity layout for '{env_id}'; give 'keep: [indices]' "
                    f"(known envs: {', '.join(sorted(POSITION_INDICES))})"
                )
            keep = POSITION_INDICES[env_id]
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box), "mask_velocity needs a Box observation space"
        self.keep = np.asarray(keep, dtype=np.int64)
        if self.keep.size == 0 or self.keep.max() >= space.shape[0] or self.keep.min() < 0:
            raise ValueError(f"mask_velocity: keep={keep} out of range for observation size {space.shape[0]}")
        if fields:
            self.io_fields = {**fields, "observation": [fields["observation"][i] for i in self.keep.tolist()]}
        self.observation_space = gym.spaces.Box(
            low=space.low[self.keep], high=space.high[self.keep], dtype=space.dtype
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[self.keep]
