"""Action repeat: hold each action for ``repeat`` simulator steps (a slower control loop)."""

from __future__ import annotations

import gymnasium as gym


class ActionRepeat(gym.Wrapper):
    """Apply the same action ``repeat`` times; rewards are summed, ``info["dt"]`` too when present.

    Stops early when the episode ends inside the repeat.
    """

    def __init__(self, env: gym.Env, repeat: int = 2) -> None:
        super().__init__(env)
        self.repeat = int(repeat)

    def step(self, action):
        total = 0.0
        dt_sum = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            dt_sum += float(info.get("dt", 0.0))
            if terminated or truncated:
                break
        if "dt" in info:
            info = {**info, "dt": dt_sum}
        return obs, total, terminated, truncated, info
