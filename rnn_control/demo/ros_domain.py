"""Find a ROS 2 domain with no participants on this machine, and check a forced one.

DDS (RTPS) participants of domain ``d`` bind the unicast discovery ports
``7400 + 250 d + 10 + 2 i`` (participant index ``i = 0, 1, ...``; Fast DDS and Cyclone DDS both
follow the RTPS port mapping). If one of the first few cannot be bound, some process on this
machine already takes part in that domain. The check needs no rclpy and takes microseconds.
"""

from __future__ import annotations

import os
import random
import socket

PORT_BASE, DOMAIN_GAIN, D1, PARTICIPANT_GAIN = 7400, 250, 10, 2
MAX_DOMAIN_ID = 101  # above this, ports collide with Linux's ephemeral range (ROS 2 docs)


def discovery_port(domain_id: int, participant: int = 0) -> int:
    return PORT_BASE + DOMAIN_GAIN * domain_id + D1 + PARTICIPANT_GAIN * participant


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def participants_in(domain_id: int, probe: int = 8) -> int:
    """How many of the first ``probe`` participant slots of ``domain_id`` are taken here."""
    return sum(_port_taken(discovery_port(domain_id, i)) for i in range(probe))


def check_domain_id(domain_id: int) -> str | None:
    """``None`` if ``domain_id`` is valid and free, else a one-line explanation."""
    if not 0 <= domain_id <= MAX_DOMAIN_ID:
        return f"ROS_DOMAIN_ID {domain_id} is out of range: use 0..{MAX_DOMAIN_ID}"
    n = participants_in(domain_id)
    if n:
        return (
            f"ROS domain {domain_id} already has {n} participant(s) on this machine (DDS ports from "
            f"{discovery_port(domain_id)} are taken): other ROS 2 processes would mix with the demo's "
            "topics. Pick another --domain-id, or omit it to let the demo choose a free one"
        )
    return None


def pick_free_domain(preferred: int | None = None, rng: random.Random | None = None) -> int:
    """``preferred`` if free, else a random free domain in 1..101."""
    if preferred is not None and check_domain_id(preferred) is None:
        return preferred
    rng = rng or random.Random(os.getpid())
    candidates = list(range(1, MAX_DOMAIN_ID + 1))
    rng.shuffle(candidates)
    for d in candidates:
        if check_domain_id(d) is None:
            return d
    raise RuntimeError("no free ROS domain id in 1..101 on this machine")
