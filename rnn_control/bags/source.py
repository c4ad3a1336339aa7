"""Open a rosbag2 recording and stream its messages, decoded, one at a time.

**Library: rosbags** (``pip install rosbags``, pure Python, no ROS install). It reads and writes
both rosbag2 storages (MCAP, the default since Iron, and sqlite3), rosbag2 folders with their
``metadata.yaml`` as well as bare ``.mcap`` / ``.db3`` files, zstd compression in every rosbag2
mode (file, message, and MCAP's chunk compression), and it deserialises CDR with type stores for
every ROS 2 distro, which is what a bag recorded without embedded message definitions (sqlite3
before Iron) needs. The alternative, ``mcap`` + ``mcap-ros2-support``, reads MCAP only (no
sqlite3, no rosbag2 folder metadata) and decodes only from definitions embedded in the file. One
library for reading, for writing test bags and for the recorder (:mod:`rnn_control.bags.writer`)
keeps the formats consistent. rosbags refuses an MCAP file whose footer is missing (a recorder
that died) and a ``.db3`` file cut short; :mod:`.mcap_scan` and :mod:`.sqlite_scan` then read
them up to the damage.

Messages are pulled from the storage one by one (rosbags reads MCAP a chunk at a time and sqlite3
row by row); nothing here keeps more than the current message.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnn_control.bags.mcap_scan import ScanState, scan_mcap
from rnn_control.bags.sqlite_scan import scan_sqlite
from rnn_control.errors import BagError

STORAGE_SUFFIXES = (".mcap", ".db3")
SCANNERS = {".mcap": scan_mcap, ".db3": scan_sqlite}  # recovery readers of damaged files


def typestore_names() -> list[str]:
    """The type stores a ``bag.typestore`` may name (``ros2_humble``, ``humble``, ...)."""
    from rosbags.typesys import Stores

    return [s.value for s in Stores if s.value.startswith("ros2_")] + ["latest"]


def named_typestore(name: str) -> Any:
    """The rosbags type store called ``name`` (``ros2_humble`` or just ``humble``)."""
    from rosbags.typesys import Stores, get_typestore

    key = name if name.startswith(("ros2_", "ros1_")) or name == "latest" else f"ros2_{name}"
    try:
        return get_typestore(Stores(key))
    except ValueError:
        raise BagError(
            f"bag.typestore: unknown type store '{name}'; choose one of: {', '.join(typestore_names())}"
        ) from None


@dataclass
class _Part:
    """One storage file (or a whole rosbag2 folder) and how it is read."""

    path: Path
    reader: Any = None  # rosbags.rosbag2.Reader, open
    scan: ScanState | None = None  # set: read with the recovery scanner
    topics: dict[str, str] = field(default_factory=dict)  # topic -> message type
    counts: dict[str, int] = field(default_factory=dict)
    definitions: dict[str, tuple[str, str]] = field(default_factory=dict)  # type -> (format, text)


class Recording:
    """One recording: a rosbag2 folder (``metadata.yaml`` + storage files), a folder of
    ``.mcap``/``.db3`` files without metadata (a recorder that did not close), or one
    ``.mcap``/``.db3`` file. Use as a context manager; :attr:`damage` lists what could not be read."""

    def __init__(self, path: str | Path, typestore: str = "") -> None:
        self.path = Path(path)
        self.typestore_name = typestore
        self.parts: list[_Part] = []
        self.damage: list[str] = []
        self.typestore: Any = None
        self._decoders: dict[str, Any] = {}  # message type -> deserialize_cdr of the store that has it

    # ------------------------------------------------------------------ opening
    def __enter__(self) -> Recording:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Open every storage file (:class:`BagError` if the path is no recording at all)."""
        from rosbags.typesys import Stores, get_typestore

        self.typestore = get_typestore(Stores.EMPTY)
        p = self.path
        if not p.exists():
            raise BagError(f"{p}: no such bag (expected a rosbag2 folder or a .mcap/.db3 file)")
        if p.is_file():
            if p.suffix not in STORAGE_SUFFIXES:
                raise BagError(f"{p}: not a bag file (expected .mcap or .db3, or a rosbag2 folder)")
            self.parts = [self._open_file(p)]
            return
        files = sorted(f for f in p.iterdir() if f.suffix in STORAGE_SUFFIXES)
        if (p / "metadata.yaml").is_file():
            try:
                self.parts = [self._open_reader(p)]
                return
            except BagError as exc:
                if not files:
                    raise
                self.damage.append(f"{exc}; reading its storage files one by one")
        elif not files:
            raise BagError(f"{p}: not a rosbag2 recording (no metadata.yaml and no .mcap/.db3 files)")
        else:
            self.damage.append(f"{p}: no metadata.yaml (the recording was not closed); reading its files")
        self.parts = [self._open_file(f) for f in files]

    def _open_reader(self, path: Path) -> _Part:
        from rosbags.interfaces import MessageDefinitionFormat
        from rosbags.rosbag2 import Reader, ReaderError

        try:
            reader = Reader(path)
            reader.open()
        except (ReaderError, OSError, KeyError, ValueError) as exc:
            raise BagError(f"{path}: cannot be read ({exc})") from None
        except Exception as exc:  # sqlite (apsw) errors of a damaged database
            raise BagError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from None
        part = _Part(path, reader=reader)
        for c in reader.connections:
            part.topics.setdefault(c.topic, c.msgtype)
            part.counts[c.topic] = part.counts.get(c.topic, 0) + int(c.msgcount)
            if c.msgdef.format != MessageDefinitionFormat.NONE and c.msgdef.data:
                fmt = "ros2msg" if c.msgdef.format == MessageDefinitionFormat.MSG else "ros2idl"
                part.definitions.setdefault(c.msgtype, (fmt, c.msgdef.data))
        return part

    def _open_file(self, path: Path) -> _Part:
        try:
            return self._open_reader(path)
        except BagError as exc:
            if path.suffix not in SCANNERS:
                raise
            reason = str(exc)
        state = ScanState()
        counts: dict[int, int] = {}
        for cid, _, _ in SCANNERS[path.suffix](path, state):  # a first pass learns the channels
            counts[cid] = counts.get(cid, 0) + 1
        part = _Part(path, scan=state)
        for cid in state.channels:
            topic, msgtype = state.topic_type(cid)
            part.topics.setdefault(topic, msgtype)
            part.counts[topic] = part.counts.get(topic, 0) + counts.get(cid, 0)
        for name, encoding, text in state.schemas.values():
            if text:
                part.definitions.setdefault(name, (encoding, text))
        self.damage.append(state.damage or reason)
        return part

    def close(self) -> None:
        """Close the storage files."""
        for part in self.parts:
            if part.reader is not None and part.reader.is_open:
                part.reader.close()
        self.parts = []

    # ------------------------------------------------------------------ what it holds
    @property
    def topics(self) -> dict[str, str]:
        """Topic -> message type, over every storage file."""
        out: dict[str, str] = {}
        for part in self.parts:
            for topic, msgtype in part.topics.items():
                out.setdefault(topic, msgtype)
        return out

    @property
    def counts(self) -> dict[str, int]:
        """Topic -> message count (as the storage's index says)."""
        out: dict[str, int] = {}
        for part in self.parts:
            for topic, n in part.counts.items():
                out[topic] = out.get(topic, 0) + n
        return out

    def describe_topics(self) -> str:
        """``/topic (type, N messages)`` for every topic, for error messages."""
        counts = self.counts
        items = [f"{t} ({m}, {counts.get(t, 0)} messages)" for t, m in sorted(self.topics.items())]
        return ", ".join(items) or "none (the bag is empty)"

    # ------------------------------------------------------------------ decoding
    def register(self, msgtypes: Collection[str]) -> None:
        """Make ``msgtypes`` decodable: from the definitions embedded in the bag, else from the
        named type store (:class:`BagError` naming the type when neither has it)."""
        from rosbags.typesys import get_types_from_idl, get_types_from_msg

        named = named_typestore(self.typestore_name) if self.typestore_name else None
        for msgtype in sorted(set(msgtypes) - set(self._decoders)):
            definition = next((p.definitions[msgtype] for p in self.parts if msgtype in p.definitions), None)
            if definition is not None:
                fmt, text = definition
                try:
                    types: dict[str, Any] = {}
                    if fmt == "ros2msg":
                        types.update(get_types_from_msg(text, msgtype))
                    else:
                        sep = "=" * 80 + "\n"
                        idls = (
                            [c.split("\n", 1)[1] for c in text.split(sep)[1:]]
                            if text.startswith(sep)
                            else [text]
                        )
                        for idl in idls:
                            types.update(get_types_from_idl(idl))
                    self.typestore.register(
                        {k: v for k, v in types.items() if k not in self.typestore.fielddefs}
                    )
                    self._decoders[msgtype] = self.typestore.deserialize_cdr
                    continue
                except Exception as exc:
                    if named is None:
                        raise BagError(
                            f"{self.path}: the definition of {msgtype} in the bag cannot be "
                            f"used ({exc}); name a type store (bag.typestore)"
                        ) from None
            if named is None:
                raise BagError(
                    f"{self.path}: the bag has no message definition for {msgtype}; name the type store of "
                    f"the distro that recorded it, e.g. 'bag.typestore: ros2_humble' (choices: "
                    f"{', '.join(typestore_names())})"
                )
            if msgtype not in named.fielddefs:
                raise BagError(f"bag.typestore: '{self.typestore_name}' does not define {msgtype}")
            self._decoders[msgtype] = named.deserialize_cdr

    def messages(self, wanted: Collection[str]) -> Iterator[tuple[str, int, Any]]:
        """``(topic, log time ns, decoded message)`` of the ``wanted`` topics, storage file by
        storage file (each in log-time order, or file order for a damaged one). A message that does
        not decode is yielded as ``None``; a read error ends that file and is noted in :attr:`damage`."""
        wanted = set(wanted)
        self.register({m for t, m in self.topics.items() if t in wanted})
        decoders = self._decoders
        for part in self.parts:
            for topic, stamp, msgtype, raw in self._raw(part, wanted):
                try:
                    yield topic, stamp, decoders[msgtype](raw, msgtype)
                except Exception:
                    yield topic, stamp, None

    def _raw(self, part: _Part, wanted: set[str]) -> Iterator[tuple[str, int, str, Any]]:
        if part.scan is not None:
            state = ScanState()
            for cid, stamp, raw in SCANNERS[part.path.suffix](part.path, state):
                topic, msgtype = state.topic_type(cid)
                if topic in wanted:
                    yield topic, stamp, msgtype, raw
            return
        connections = [c for c in part.reader.connections if c.topic in wanted]
        if not connections:
            return
        n = 0
        try:
            for connection, stamp, raw in part.reader.messages(connections=connections):
                n += 1
                yield connection.topic, stamp, connection.msgtype, raw
        except Exception as exc:  # rosbags ReaderError, sqlite errors of a damaged file
            self.damage.append(f"{part.path}: read error after {n} messages ({type(exc).__name__}: {exc})")
