"""A forward-only MCAP record scanner that reads a damaged file up to the damage.

A recorder that dies (power cut, SIGKILL, full disk) leaves an MCAP file without its summary and
footer, often cut in the middle of a chunk. Index-based readers refuse such a file (rosbags:
"File end magic is invalid"). This scanner walks the records from the start as the MCAP
specification lays them out (opcode u8, length u64, content; chunks hold records compressed with
zstd or lz4), yields every message of every complete record and stops at the first record that
is cut short or fails to decompress, saying where. Only one chunk is held in memory at a time.

Used by :mod:`rnn_control.bags.source` only when the regular reader refuses a file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

MAGIC = b"\x89MCAP0\r\n"
OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK, OP_FOOTER, OP_DATA_END = 0x03, 0x04, 0x05, 0x06, 0x02, 0x0F


@dataclass
class ScanState:
    """What a scan has learned: schemas (id -> (name, encoding, text)), channels (id -> (topic,
    schema id)), the messages yielded, and the damage (``None``: the file was read to its end)."""

    schemas: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    channels: dict[int, tuple[str, int]] = field(default_factory=dict)
    messages: int = 0
    damage: str | None = None

    def topic_type(self, channel_id: int) -> tuple[str, str]:
        """``(topic, message type)`` of a channel."""
        topic, schema_id = self.channels[channel_id]
        return topic, self.schemas.get(schema_id, ("", "", ""))[0]


class _Cut(Exception):
    """A record is shorter than its length says (the file ends inside it)."""


def _exact(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _Cut(f"expected {n} bytes, {len(data)} left")
    return data


def _string(buf: memoryview, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", buf, pos)
    return bytes(buf[pos + 4 : pos + 4 + n]).decode(), pos + 4 + n


def _decompress(data: bytes, compression: str, size: int) -> bytes:
    if compression == "":
        return data
    if compression == "zstd":
        try:
            from compression import zstd  # Python >= 3.14
        except ImportError:
            from backports import zstd  # a rosbags dependency before 3.14
        return zstd.decompress(data)
    if compression == "lz4":
        import lz4.frame

        return lz4.frame.decompress(data)
    raise ValueError(f"unknown chunk compression {compression!r}")


def _records(buf: memoryview, state: ScanState) -> Iterator[tuple[int, int, memoryview]]:
    """Messages ``(channel id, log time, data)`` of a chunk's uncompressed records; schemas and
    channels are noted in ``state``."""
    pos, end = 0, len(buf)
    while pos + 9 <= end:
        op, length = struct.unpack_from("<BQ", buf, pos)
        body = buf[pos + 9 : pos + 9 + length]
        if len(body) != length:
            raise ValueError(f"a record inside a chunk is cut at {pos + 9 + len(body)} of {end} bytes")
        pos += 9 + length
        yield from _record(op, body, state)


def _record(op: int, body: memoryview, state: ScanState) -> Iterator[tuple[int, int, memoryview]]:
    if op == OP_SCHEMA:
        (sid,) = struct.unpack_from("<H", body, 0)
        name, p = _string(body, 2)
        encoding, p = _string(body, p)
        (n,) = struct.unpack_from("<I", body, p)
        state.schemas[sid] = (name, encoding, bytes(body[p + 4 : p + 4 + n]).decode())
    elif op == OP_CHANNEL:
        cid, sid = struct.unpack_from("<HH", body, 0)
        topic, _ = _string(body, 4)
        state.channels[cid] = (topic, sid)
    elif op == OP_MESSAGE:
        cid, _seq, log_time, _publish = struct.unpack_from("<HIQQ", body, 0)
        yield cid, log_time, body[22:]


def scan_mcap(path: str | Path, state: ScanState | None = None) -> Iterator[tuple[int, int, memoryview]]:
    """Every message ``(channel id, log time ns, CDR data)`` of ``path`` in file order, up to the
    first damaged record; ``state`` (pass one to read it afterwards) holds the schemas, channels,
    message count and a description of the damage."""
    state = state if state is not None else ScanState()
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        if f.read(8) != MAGIC:
            state.damage = f"{path.name}: not an MCAP file (bad magic)"
            return
        while True:
            offset = f.tell()
            head = f.read(9)
            if len(head) == 0:
                state.damage = f"{path.name}: ends at byte {offset} without a footer (recording not closed)"
                return
            try:
                if len(head) < 9:
                    raise _Cut(f"expected 9 bytes, {len(head)} left")
                op, length = struct.unpack("<BQ", head)
                if op in (OP_FOOTER, OP_DATA_END):
                    return
                if op == OP_CHUNK:
                    fixed = _exact(f, 28)
                    _start, _end, raw_size, _crc = struct.unpack("<QQQI", fixed)
                    (n,) = struct.unpack("<I", _exact(f, 4))
                    compression = _exact(f, n).decode()
                    (csize,) = struct.unpack("<Q", _exact(f, 8))
                    data = _exact(f, csize)
                    f.seek(offset + 9 + length)
                    buf = memoryview(_decompress(data, compression, raw_size))
                    for message in _records(buf, state):
                        state.messages += 1
                        yield message
                elif op in (OP_SCHEMA, OP_CHANNEL, OP_MESSAGE):
                    for message in _record(op, memoryview(_exact(f, length)), state):
                        state.messages += 1
                        yield message
                else:
                    if offset + 9 + length > size:
                        raise _Cut(f"record of {length} bytes runs past the end of the file")
                    f.seek(length, 1)
            except _Cut as exc:
                state.damage = (
                    f"{path.name}: truncated at byte {size} inside the record at byte {offset} "
                    f"(opcode 0x{head[0]:02x}; {exc}); {state.messages} messages read before it"
                )
                return
            except (ValueError, struct.error, UnicodeDecodeError) as exc:
                state.damage = (
                    f"{path.name}: damaged record at byte {offset} ({exc}); "
                    f"{state.messages} messages read before it"
                )
                return
