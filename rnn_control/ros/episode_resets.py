"""The Trigger services a simulator calls at every episode start (the policy's, the monitor's).

The sim bridge holds the next episode's first observation until every reset it sent has landed,
so no node sees the new episode before its recurrent state is zero. A service nobody offers is
not waited for: there is nobody to reset, and nobody to answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.node import Node
from std_srvs.srv import Trigger


class EpisodeResets:
    """Trigger clients for a list of service names, and the resets still under way.
    ``on_landed``: called (in the node's executor) when the last reset of a call has answered."""

    def __init__(self, node: Node, services: list[str], on_landed: Callable[[], None] | None = None) -> None:
        self.clients = [node.create_client(Trigger, s) for s in services if s]
        self.pending = 0
        self.on_landed = on_landed

    def __bool__(self) -> bool:
        return bool(self.clients)

    @property
    def under_way(self) -> bool:
        """A reset was sent and has not been answered yet."""
        return self.pending > 0

    def offered(self) -> bool:
        """Every service answers (discovery has matched them all)."""
        return all(c.service_is_ready() for c in self.clients)

    def call(self) -> None:
        """Send a reset to every service that is offered now."""
        for client in self.clients:
            if client.service_is_ready():
                self.pending += 1
                client.call_async(Trigger.Request()).add_done_callback(self._landed)

    def _landed(self, _future: Any) -> None:
        self.pending -= 1
        if self.pending == 0 and self.on_landed is not None:
            self.on_landed()
