"""The closed loop's topics and node parameters, chosen from the bundles' IO layout.

A bundle that reads plain vectors only (the toy scenarios: ``vector/0``, ``vector/1``) runs as it
always has: the sim bridge publishes the observation vector on ``observation``, the policy node
steps on each one, the recorder records that topic, and the latency runs from it to the command.

A bundle that reads a robot's sensor messages (``joint_state/...``, ``imu/...``, ``odometry/...``,
possibly beside task inputs on ``vector/...``) gets one topic per sensor group, under the nodes'
default names; the policy node steps once every group has a new message (``trigger: all``, the
messages of one sample time) and publishes the observation it assembled (``publish_debug``: its
``~/observation``, in the bundle's input order), which is what the recorder records as the
observation vector; the dynamics monitor reads the same groups. That assembled observation goes
out after the node's step, so it cannot start a latency measurement: the recorder also hears the
bridge's JointState (published last in each sample) and the latency runs from its publication to
the command (both DDS source timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnn_control.contract.fields import parse_source

# The nodes' default topic per sensor group (rnn_control.ros.parameters; a test keeps them equal).
DEFAULT_TOPICS = {
    "joint_state": "joint_states",
    "imu": "imu",
    "odometry": "odom",
    "twist": "cmd_vel",
    "vector": "observation",
}
VECTOR_ONLY = {"vector", "last_action"}
POLICY_NODE = "policy_node"  # the node name the demo gives the policy node (its ~/observation)


@dataclass(frozen=True)
class LoopIO:
    """What the closed loop wires up and what each recorded column is."""

    robot: bool  # reads robot sensor messages, not only vectors
    topics: dict[str, str]  # sensor group -> topic, for every group the policy reads
    observation_topic: str  # the Float64MultiArray the recorder keeps as the observation vector
    observation_sources: list[str]  # the bundle source of each recorded observation column
    observation_names: list[str]
    command_names: list[str]
    latency_topic: str = ""  # '' : latency from observation_topic; else this JointState topic
    latency_from: str = "observation published by the sim bridge"
    policy_params: dict[str, Any] = field(default_factory=dict)  # beyond bundle/autostart/mode
    monitor_params: dict[str, Any] = field(default_factory=dict)
    bridge_params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """For the report: inputs, trigger, what the recorder and the latency read."""
        return {
            "robot": self.robot,
            "inputs": dict(self.topics),
            "trigger": self.policy_params.get("trigger", "the first sensor group"),
            "recorded_observation": self.observation_topic,
            "observation_names": list(self.observation_names),
            "command_names": list(self.command_names),
            "latency_from": self.latency_from,
        }


def sensor_groups(sources: list[str]) -> list[str]:
    """The sensor groups of ``sources`` (``last_action`` left out), in first-use order."""
    groups: list[str] = []
    for s in sources:
        g = parse_source(s).group
        if g != "last_action" and g not in groups:
            groups.append(g)
    return groups


def loop_io(policy_meta: Any, observation: str = "observation", command: str = "command") -> LoopIO:
    """The loop for a policy bundle's metadata (``observation``/``command``: the vector-only
    loop's topic names, as the demo has always used them)."""
    sources = [f.source for f in policy_meta.observation]
    names = [f.name for f in policy_meta.observation]
    command_names = [f.name for f in policy_meta.action]
    groups = sensor_groups(sources)
    if set(groups) <= VECTOR_ONLY:
        fields = [parse_source(s) for s in sources]
        n = 1 + max((f.index for f in fields if f.group == "vector"), default=-1)
        by_index = {f.index: nm for f, nm in zip(fields, names) if f.group == "vector"}
        topics = {"vector": observation}
        return LoopIO(
            robot=False,
            topics=topics,
            observation_topic=observation,
            observation_sources=[f"vector/{i}" for i in range(n)],
            observation_names=[by_index.get(i, f"vector/{i}") for i in range(n)],
            command_names=command_names,
            policy_params={"fade_in": 0.0, "vector_topic": observation, "command_topic": command},
            monitor_params={"vector_topic": observation, "command_topic": command},
            bridge_params={"vector_topic": observation, "command_topic": command},
        )
    topics = {g: DEFAULT_TOPICS[g] for g in groups}
    topic_params = {f"{g}_topic": t for g, t in topics.items()}
    joint_topic = topics.get("joint_state", "")
    first = "JointState" if joint_topic else "the last sensor message"
    return LoopIO(
        robot=True,
        topics=topics,
        observation_topic=f"/{POLICY_NODE}/observation",
        observation_sources=sources,
        observation_names=names,
        command_names=command_names,
        latency_topic=joint_topic,
        latency_from=(
            f"{first} published by the sim bridge (the last message of each sample; the policy "
            f"node steps once every sensor group has a new one)"
            if joint_topic
            else "observation assembled by the policy node (after its step: a lower bound)"
        ),
        policy_params={"fade_in": 0.0, "trigger": "all", "publish_debug": "true", **topic_params}
        | {"command_topic": command},
        monitor_params={**topic_params, "command_topic": command},
        bridge_params={**topic_params, "command_topic": command},
    )


def prediction_columns(observation_sources: list[str], dynamics_meta: Any) -> list[int] | None:
    """For each field the dynamics bundle predicts (its sensor inputs, in order), the recorded
    observation column holding it; None if one is not recorded."""
    wanted = [f.source for f in dynamics_meta.observation if parse_source(f.source).group != "last_action"]
    index = {s: i for i, s in enumerate(observation_sources)}
    cols = [index.get(s) for s in wanted]
    return None if any(c is None for c in cols) else [int(c) for c in cols]  # type: ignore[arg-type]
