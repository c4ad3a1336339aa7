"""Write rosbag2 recordings (rosbags' writer): the recorder node, tests and benchmarks use it.

A recording is a rosbag2 folder: the storage file (MCAP by default, or sqlite3) and a
``metadata.yaml`` of format version 9, the layout ``ros2 bag record`` writes and ``ros2 bag
info`` / ``ros2 bag play`` read. Message definitions are embedded (from the named type store),
so the bag decodes anywhere. ``compression: zstd`` compresses MCAP chunks (rosbag2's
``zstd_fast`` storage preset: the file stays a plain ``.mcap``) or sqlite3 messages.

The storage writer keeps at most one chunk (1 MiB) in memory; :meth:`BagWriter.close` writes the
summary and the metadata. A writer that is never closed leaves an MCAP file without its summary,
which :class:`~rnn_control.bags.source.Recording` still reads up to its last complete chunk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from rnn_control import __version__
from rnn_control.bags.source import named_typestore
from rnn_control.errors import BagError


class BagWriter:
    """A rosbag2 recording being written::

    with BagWriter(path) as bag:
        conn = bag.topic("/x", "std_msgs/msg/Float64")
        bag.write(conn, log_time_ns, bag.message("std_msgs/msg/Float64", data=1.0))
    """

    def __init__(
        self,
        path: str | Path,
        storage: Literal["mcap", "sqlite3"] = "mcap",
        compression: Literal["none", "zstd"] = "none",
        typestore: str = "latest",
        embed_definitions: bool = True,
    ) -> None:
        from rosbags.rosbag2 import Writer
        from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin

        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path}: exists already; a recording is never overwritten")
        self.typestore = named_typestore(typestore)
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.writer = Writer(self.path, version=9, storage_plugin=plugin)
        if compression == "zstd":
            mode = CompressionMode.STORAGE if storage == "mcap" else CompressionMode.MESSAGE
            self.writer.set_compression(mode, CompressionFormat.ZSTD)
        self.writer.set_custom_data("rnn_control", __version__)
        self.embed = embed_definitions
        self.connections: dict[str, Any] = {}
        self.count = 0
        self._open = False

    def __enter__(self) -> BagWriter:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Create the folder and the storage file."""
        self.writer.open()
        self._open = True

    def topic(self, name: str, msgtype: str) -> Any:
        """The connection of topic ``name`` (added on first use) with message type ``msgtype``
        (``sensor_msgs/msg/JointState``; ``BagError`` if the type store does not know it)."""
        if name in self.connections:
            return self.connections[name]
        if msgtype not in self.typestore.fielddefs:
            raise BagError(f"{name}: message type {msgtype} is not in the type store")
        if self.embed:
            conn = self.writer.add_connection(name, msgtype, typestore=self.typestore)
        else:  # a bag as distros before Iron wrote them: no definitions inside
            conn = self.writer.add_connection(
                name, msgtype, msgdef="", rihs01=self.typestore.hash_rihs01(msgtype)
            )
        self.connections[name] = conn
        return conn

    def message(self, msgtype: str, **fields: Any) -> Any:
        """A message object of ``msgtype`` (the type store's class) built from ``fields``."""
        return self.typestore.types[msgtype](**fields)

    def write(self, connection: Any, log_time_ns: int, message: Any) -> None:
        """Write ``message`` (a type-store message object, or CDR bytes as rclpy's raw
        subscriptions deliver them) with its log time."""
        data = (
            message
            if isinstance(message, (bytes, bytearray, memoryview))
            else self.typestore.serialize_cdr(message, connection.msgtype)
        )
        self.writer.write(connection, int(log_time_ns), data)
        self.count += 1

    def close(self) -> None:
        """Write the summary and ``metadata.yaml`` (an unopened writer: nothing to do)."""
        if self._open:
            self._open = False
            self.writer.close()


def header(typestore: Any, stamp_ns: int, frame_id: str = "") -> Any:
    """A ``std_msgs/msg/Header`` of the type store with the given stamp."""
    t = typestore.types["builtin_interfaces/msg/Time"](
        sec=int(stamp_ns // 10**9), nanosec=int(stamp_ns % 10**9)
    )
    return typestore.types["std_msgs/msg/Header"](stamp=t, frame_id=frame_id)
