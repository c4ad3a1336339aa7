"""Read a damaged rosbag2 sqlite3 file (``.db3``) up to the damage.

A recorder that dies, or a copy cut short, leaves a ``.db3`` file shorter than the page count in
its header. SQLite then refuses to open it at all ("database disk image is malformed": the
schema names root pages beyond the end of the file), and so does rosbags. The pages that are
there are intact, though; what is lost is mostly the tree above them (a B-tree's upper pages are
rewritten where the file ended when the tree last grew a level). So, like ``sqlite3 .recover``:

1. the topics and their message definitions come from SQLite itself, on a copy of the file
   padded with empty pages to the size its header claims (that lets it load the schema);
2. the messages come from the table's *leaf pages*, read straight off the file: every leaf cell
   whose record is a rosbag2 message row (``id, topic_id, timestamp, data``), overflow chains
   followed, in row (insertion) order. A message whose overflow pages are gone is counted as lost.

Only the row numbers and page positions are held in memory, never the messages. Messages
compressed one by one (rosbag2's ``message`` compression mode, zstd) are decompressed.

Used by :mod:`rnn_control.bags.source` only when the regular reader refuses a ``.db3`` file.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from rnn_control.bags.mcap_scan import ScanState

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # a CDR message starts with its encapsulation header, never this
HEADER = 100


def _padded_copy(path: Path, out: Path) -> int:
    """Copy ``path`` to ``out``, padded with zero pages to the page count its header claims;
    returns how many bytes were missing (0: the file is not short)."""
    with open(path, "rb") as f:
        header = f.read(HEADER)
    if len(header) < HEADER or not header.startswith(b"SQLite format 3\x00"):
        raise ValueError("not an SQLite database (no SQLite header)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    claimed = int.from_bytes(header[28:32], "big") * page_size
    shutil.copyfile(path, out)
    have = out.stat().st_size
    missing = max(0, claimed - have)
    with open(out, "r+b") as f:  # whole pages: a page cut in half is zero from the cut on
        f.truncate(max(claimed, -(-have // page_size) * page_size))
    return missing


def scan_sqlite(path: Path, state: ScanState) -> Iterator[tuple[int, int, bytes]]:
    """``(topic id, log time ns, CDR bytes)`` of every message left in a damaged ``.db3`` file, in
    row order; fills ``state`` (topics as channels, their types and embedded definitions as
    schemas) and sets ``state.damage`` to what was lost."""
    import zstandard

    try:
        missing = _topics(path, state)
    except (OSError, ValueError, sqlite3.DatabaseError) as exc:
        state.damage = f"{path}: cannot be recovered ({type(exc).__name__}: {exc})"
        return
    unzstd = zstandard.ZstdDecompressor()
    with open(path, "rb") as f:
        pages = _Pages(f)
        cells = sorted(pages.message_cells())  # (rowid, page, cell index): small, never the data
        lost = 0
        for _, page, cell in cells:
            row = pages.row(page, cell)
            if row is None:  # its overflow chain runs into the damage
                lost += 1
                continue
            tid, stamp, raw = row
            if raw[:4] == ZSTD_MAGIC:
                raw = unzstd.decompress(raw)
            state.messages += 1
            yield tid, stamp, raw
    short = f"{missing} bytes short of the size its header gives" if missing else "damaged"
    lost_text = f", {lost} more cut off in their overflow pages" if lost else ""
    state.damage = (
        f"{path}: {short}; {state.messages} messages recovered from its intact pages{lost_text}"
    )


def _topics(path: Path, state: ScanState) -> int:
    """Topics and definitions via SQLite on a padded copy; returns the bytes missing."""
    with tempfile.TemporaryDirectory(prefix="rnn_control_db3_") as tmp:
        copy = Path(tmp) / path.name
        missing = _padded_copy(path, copy)
        con = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            topics = con.execute("SELECT id, name, type FROM topics").fetchall()
            try:  # rosbag2 >= Iron embeds the definitions
                rows = con.execute(
                    "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions"
                ).fetchall()
            except sqlite3.DatabaseError:
                rows = []
        finally:
            con.close()
    definitions = {t: (enc, text) for t, enc, text in rows}
    for tid, name, msgtype in topics:
        encoding, text = definitions.get(msgtype, ("", ""))
        state.schemas[tid] = (msgtype, encoding, text or "")
        state.channels[tid] = (name, tid)
    return missing


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """SQLite's big-endian varint (1-9 bytes) at ``pos`` -> (value, next position)."""
    value = 0
    for i in range(8):
        b = buf[pos + i]
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            return value, pos + i + 1
    return (value << 8) | buf[pos + 8], pos + 9


# serial type -> bytes of an integer (8 and 9 are the constants 0 and 1, stored in no bytes)
INT_SIZES = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8, 8: 0, 9: 0}
LEAF_TABLE = 0x0D


class _Pages:
    """The intact pages of a damaged SQLite file, read on demand."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        header = f.read(HEADER)
        size = int.from_bytes(header[16:18], "big")
        self.page_size = 65536 if size == 1 else size
        self.usable = self.page_size - header[20]
        f.seek(0, 2)
        self.pages = f.tell() // self.page_size  # whole pages present

    def page(self, n: int) -> bytes | None:
        if not 1 <= n <= self.pages:
            return None
        self.f.seek((n - 1) * self.page_size)
        return self.f.read(self.page_size)

    def _cells(self, n: int, buf: bytes) -> list[int]:
        off = HEADER if n == 1 else 0
        if buf[off] != LEAF_TABLE:
            return []
        count = int.from_bytes(buf[off + 3 : off + 5], "big")
        return [int.from_bytes(buf[off + 8 + 2 * i : off + 10 + 2 * i], "big") for i in range(count)]

    def message_cells(self) -> Iterator[tuple[int, int, int]]:
        """(rowid, page, cell index) of every leaf cell that is a rosbag2 message row."""
        for n in range(1, self.pages + 1):
            buf = self.page(n)
            for i, ptr in enumerate(self._cells(n, buf)):
                try:
                    rowid, types = self._head(buf, ptr)
                except IndexError:
                    continue
                # id (the rowid, stored as NULL), topic_id and timestamp integers, data a blob
                ints = len(types) == 4 and types[0] == 0 and types[1] in INT_SIZES and types[2] in INT_SIZES
                if ints and types[3] >= 12 and types[3] % 2 == 0:
                    yield rowid, n, i

    def _head(self, buf: bytes, ptr: int) -> tuple[int, list[int]]:
        _, pos = _varint(buf, ptr)  # payload size
        rowid, pos = _varint(buf, pos)
        header_size, p = _varint(buf, pos)
        types, end = [], pos + header_size
        while p < end:
            t, p = _varint(buf, p)
            types.append(t)
        return rowid, types

    def _payload(self, buf: bytes, ptr: int) -> bytes | None:
        size, pos = _varint(buf, ptr)
        _, pos = _varint(buf, pos)
        u = self.usable
        x, m = u - 35, ((u - 12) * 32 // 255) - 23
        local = size if size <= x else (m + (size - m) % (u - 4) if m + (size - m) % (u - 4) <= x else m)
        data = bytearray(buf[pos : pos + local])
        nxt = int.from_bytes(buf[pos + local : pos + local + 4], "big") if local < size else 0
        while len(data) < size:
            page = self.page(nxt)
            if page is None:
                return None
            nxt = int.from_bytes(page[:4], "big")
            data += page[4 : 4 + min(u - 4, size - len(data))]
        return bytes(data)

    def row(self, n: int, cell: int) -> tuple[int, int, bytes] | None:
        """(topic id, timestamp, data) of a message cell, or None if its overflow pages are gone."""
        buf = self.page(n)
        payload = self._payload(buf, self._cells(n, buf)[cell])
        if payload is None:
            return None
        header_size, p = _varint(payload, 0)
        types = []
        while p < header_size:
            t, p = _varint(payload, p)
            types.append(t)
        values, pos = [], header_size
        for t in types[1:3]:
            k = INT_SIZES[t]
            values.append(t - 8 if k == 0 else int.from_bytes(payload[pos : pos + k], "big", signed=True))
            pos += k
        blob = (types[3] - 12) // 2
        return values[0], values[1], payload[pos : pos + blob]
