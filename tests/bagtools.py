"""Writing small real rosbag2 recordings for the tests (rosbags' writer, both storages)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rnn_control.bags.writer import BagWriter, header
from rnn_control.config import from_dict
from rnn_control.scenario.bag import BagConfig

JS, ARR, F64 = "sensor_msgs/msg/JointState", "std_msgs/msg/Float64MultiArray", "std_msgs/msg/Float64"
S = 1_000_000_000  # ns per second
T0 = 1_700_000_000 * S  # a wall-clock-like start


def joint_state(
    bag: BagWriter, stamp: int, position: Iterable[float], names=("hinge",), velocity=None
) -> Any:
    pos = np.asarray(list(position), dtype=np.float64)
    vel = np.zeros(len(pos)) if velocity is None else np.asarray(velocity, dtype=np.float64)
    return bag.message(
        JS,
        header=header(bag.typestore, stamp),
        name=list(names),
        position=pos,
        velocity=vel,
        effort=np.zeros(0),
    )


def array(bag: BagWriter, values: Iterable[float]) -> Any:
    layout = bag.typestore.types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0)
    return bag.message(ARR, layout=layout, data=np.asarray(list(values), dtype=np.float64))


def write_bag(
    path: Path,
    sensor: Iterable[tuple[int, int, Any]],  # (log ns, stamp ns, position(s))
    command: Iterable[tuple[int, Any]] = (),  # (log ns, value(s))
    storage: str = "mcap",
    compression: str = "none",
    extra: Callable[[BagWriter], None] | None = None,
    embed: bool = True,
) -> Path:
    """A bag with /joint_states (JointState, joint 'hinge') and /cmd (Float64MultiArray)."""
    with BagWriter(path, storage=storage, compression=compression, embed_definitions=embed) as bag:
        js, cmd = bag.topic("/joint_states", JS), bag.topic("/cmd", ARR)
        items = [(log, 0, js, stamp, p) for log, stamp, p in sensor]
        items += [(log, 1, cmd, None, v) for log, v in command]
        for log, _, conn, stamp, value in sorted(items, key=lambda x: (x[0], x[1])):
            values = np.atleast_1d(np.asarray(value, dtype=np.float64))
            msg = joint_state(bag, stamp, values) if conn is js else array(bag, values)
            bag.write(conn, log, msg)
        if extra is not None:
            extra(bag)
    return path


def config(**over: Any) -> BagConfig:
    """A bag section reading hinge position from /joint_states and vector/0 from /cmd."""
    data: dict[str, Any] = {
        "period": 0.1,
        "min_episode_steps": 2,
        "heldout_fraction": 0.0,
        "observation": [{"topic": "/joint_states", "field": "joint_state/position/hinge"}],
        "action": [{"topic": "/cmd", "field": "vector/0"}],
    }
    data.update(over)
    return from_dict(BagConfig, data, where="bag")


def regular(n: int, period: float = 0.1, start: int = T0, latency: int = 1_000_000, value=lambda i: float(i)):
    """``n`` sensor messages every ``period`` seconds: (log, stamp, value(i))."""
    step = round(period * S)
    return [(start + i * step + latency, start + i * step, value(i)) for i in range(n)]


def rollout_bag(path: Path, data: Any, period: float, storage: str = "mcap") -> Path:
    """An in-process :class:`EpisodeDataset` recorded as the sim bridge's topics would be:
    /observation (Float64MultiArray, one per step), /command (the reply 5 ms later) and
    /sim_bridge/episode_return (Float64) after each episode, on log time."""
    step = round(period * S)
    with BagWriter(path, storage=storage) as bag:
        obs_c, cmd_c = bag.topic("/observation", ARR), bag.topic("/command", ARR)
        ret_c = bag.topic("/sim_bridge/episode_return", F64)
        t = T0
        for e in range(data.num_episodes):
            obs, act = data.episode(e)
            for k in range(len(act)):
                bag.write(obs_c, t + MS_, array(bag, obs[k]))
                bag.write(cmd_c, t + 5 * MS_, array(bag, act[k]))
                t += step
            bag.write(obs_c, t + MS_, array(bag, obs[-1]))
            bag.write(ret_c, t + 2 * MS_, bag.message(F64, data=0.0))
            t += step
    return path


MS_ = 1_000_000


def rollout_bag_section(obs_dim: int, act_dim: int, period: float) -> dict[str, Any]:
    """The ``bag:`` section reading :func:`rollout_bag`'s topics."""
    return {
        "time_base": "log_time",
        "period": period,
        "episode_topic": "/sim_bridge/episode_return",
        "min_episode_steps": 8,
        "heldout_fraction": 0.25,
        "observation": [{"topic": "/observation", "field": f"vector/{i}"} for i in range(obs_dim)],
        "action": [
            {"topic": "/command", "field": f"vector/{i}", "low": -2.0, "high": 2.0} for i in range(act_dim)
        ],
    }
