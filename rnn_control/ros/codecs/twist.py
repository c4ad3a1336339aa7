"""geometry_msgs/Twist: ``twist/{linear,angular}/{x,y,z}`` as a source (the path is the attribute
chain) and as a command target (unused components are sent as 0)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist

from rnn_control.ros.codecs.base import CommandWriter, FixedFieldReader, attribute_getter, set_attribute


class TwistReader(FixedFieldReader):
    """An unstamped Twist (e.g. a velocity command the robot reports back)."""

    group = "twist"
    msg_type = Twist


class TwistWriter(CommandWriter):
    """Twist commands: ``twist/<part>/<axis>`` targets -> ``msg.<part>.<axis>``."""

    command_type = "twist"
    msg_type = Twist

    def __init__(self, targets: Sequence[str], **options: Any) -> None:
        super().__init__(targets)
        if self.groups != {"twist"}:
            raise ValueError(
                "command_type 'twist' carries twist/{linear,angular}/{x,y,z} targets only, but the "
                f"bundle's action targets are {[str(t) for t in self.targets]}"
            )
        self.chains = [TwistReader.attributes(t.path) for t in self.targets]
        self.getters = [attribute_getter(chain) for chain in self.chains]

    def make(self, command: np.ndarray, stamp: Time | None = None) -> Twist:
        msg = Twist()
        for chain, value in zip(self.chains, command):
            set_attribute(msg, chain, float(value))
        return msg

    def read(self, msg: Twist, out: np.ndarray) -> None:
        for k, get in enumerate(self.getters):
            out[k] = get(msg)
