"""The mover's pure parts: key derivation, chunk ids, sealing, chunking, the snapshot format."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import pytest

from activities.mover import chunks as chunks_module
from activities.mover.chunks import (
    CHUNK_MAX,
    CHUNK_MIN,
    CODEC_RAW,
    CODEC_ZSTD,
    SEGMENT_SIZE,
    Buffer,
    ChunkCodec,
    cut_points,
    derive_key,
    file_chunks,
)
from activities.mover.errors import IntegrityError
from activities.mover.layout import Layout, check_snapshot_id
from activities.mover.progress import ResumeState
from activities.mover.snapshot import Entry, EntryType, Location, Tree, decode, encode

KEY = b"location-key-for-unit-tests"


def noise(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def text(size: int) -> bytes:
    words = [b"backup", b"restore", b"volume", b"snapshot", b"cluster", b"namespace", b"\n"]
    rng = random.Random(7)
    return b" ".join(rng.choice(words) for _ in range(size // 6))[:size]


@pytest.fixture(scope="module")
def codec() -> ChunkCodec:
    return ChunkCodec(KEY)


def test_derived_keys_differ_per_purpose_and_per_location_key() -> None:
    assert derive_key(KEY, b"a") == derive_key(KEY, b"a")
    assert len({derive_key(KEY, b"a"), derive_key(KEY, b"b"), derive_key(KEY + b"!", b"a")}) == 3
    assert len(derive_key(KEY, b"a")) == 32


def test_chunk_ids_are_keyed_so_equal_data_dedupes_only_within_a_location(
    codec: ChunkCodec,
) -> None:
    data = noise(1000)
    assert codec.chunk_id(data) == codec.chunk_id(bytearray(data))
    assert len(codec.chunk_id(data)) == 32
    assert ChunkCodec(KEY + b"-other").chunk_id(data) != codec.chunk_id(data)
    assert codec.chunk_id(data) != codec.chunk_id(data[:-1])


def test_a_short_location_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        ChunkCodec(b"short")


def test_sealing_compresses_text_stores_noise_raw_and_round_trips(codec: ChunkCodec) -> None:
    for data, codec_byte in ((text(100_000), CODEC_ZSTD), (noise(100_000), CODEC_RAW)):
        chunk_id = codec.chunk_id(data)
        blob = codec.seal_chunk(chunk_id, data)
        assert blob[0] == codec_byte
        assert data not in blob
        assert codec.open_chunk(chunk_id, blob, where="test") == data
    assert len(codec.seal_chunk(b"x" * 32, text(100_000))) < 50_000
    empty = codec.seal_chunk(codec.chunk_id(b""), b"")
    assert codec.open_chunk(codec.chunk_id(b""), empty, where="test") == b""


def test_every_seal_uses_a_fresh_nonce(codec: ChunkCodec) -> None:
    data = text(10_000)
    first, second = (codec.seal(data, b"ctx") for _ in range(2))
    assert first != second
    assert first[1:13] != second[1:13]
    assert codec.open(first, b"ctx", what="x") == codec.open(second, b"ctx", what="x") == data


def test_tampering_is_detected_with_a_clear_error(codec: ChunkCodec) -> None:
    data = text(50_000)
    chunk_id = codec.chunk_id(data)
    blob = bytearray(codec.seal_chunk(chunk_id, data))
    blob[len(blob) // 2] ^= 1
    with pytest.raises(IntegrityError, match=f"chunk {chunk_id.hex()}.*tampered"):
        codec.open_chunk(chunk_id, blob, where="chunks/ab/cd")
    good = codec.seal_chunk(chunk_id, data)
    with pytest.raises(IntegrityError, match="failed its authentication check"):
        codec.open_chunk(chunk_id, bytes((CODEC_RAW,)) + good[1:], where="x")
    with pytest.raises(IntegrityError, match="not a sealed blob"):
        codec.open_chunk(chunk_id, good[:20], where="x")
    with pytest.raises(IntegrityError, match="location key is wrong"):
        ChunkCodec(KEY + b"-other").open_chunk(chunk_id, good, where="x")


def test_a_blob_moved_to_another_name_fails(codec: ChunkCodec) -> None:
    data, other = text(5_000), noise(5_000)
    blob = codec.seal_chunk(codec.chunk_id(data), data)
    with pytest.raises(IntegrityError):
        codec.open_chunk(codec.chunk_id(other), blob, where="x")
    with pytest.raises(IntegrityError):
        codec.open(codec.seal(data, b"snapshots/a"), b"snapshots/b", what="x")


def test_a_correctly_sealed_chunk_under_the_wrong_id_fails_the_hash_check(
    codec: ChunkCodec,
) -> None:
    # Only a key holder could build this; the hash check still refuses it.
    claimed = codec.chunk_id(b"claimed")
    blob = codec.seal(b"actual", b"chunk:" + claimed)
    with pytest.raises(IntegrityError, match="does not match its hash"):
        codec.open_chunk(claimed, blob, where="x")


def test_chunks_respect_the_size_bounds_and_cover_the_data() -> None:
    data = noise(24 * 1024 * 1024)
    cuts = list(cut_points(data))
    assert [offset for offset, _ in cuts] == [0, *(o + n for o, n in cuts[:-1])]
    assert sum(n for _, n in cuts) == len(data)
    assert all(CHUNK_MIN <= n <= CHUNK_MAX for _, n in cuts[:-1])
    assert 12 <= len(cuts) <= 48  # about 1 MiB on average
    assert list(cut_points(b"")) == []
    assert list(cut_points(b"tiny")) == [(0, 4)]


def chunked(data: bytes, codec: ChunkCodec) -> list[tuple[bytes, bytes]]:
    """The reference: the whole buffer chunked at once, with ids."""
    return [(data[o : o + n], codec.chunk_id(data[o : o + n])) for o, n in cut_points(data)]


@pytest.mark.parametrize("first_read", [1, CHUNK_MAX, 5 * 1024 * 1024 + 17, SEGMENT_SIZE])
def test_streaming_cuts_where_whole_buffer_chunking_cuts(
    first_read: int, codec: ChunkCodec
) -> None:
    data = noise(40 * 1024 * 1024 + 12345, seed=3)
    streamed = file_chunks(io.BytesIO(data), codec.chunk_id, first_read=first_read)
    assert [(bytes(v), i) for v, i in streamed] == chunked(data, codec)


class TrickleStream:
    """A stream that returns at most 100 000 bytes per read, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readinto(self, buffer: memoryview, /) -> int:
        return self._data.readinto(buffer[:100_000])


def test_short_reads_are_not_taken_for_the_end(codec: ChunkCodec) -> None:
    data = noise(9 * 1024 * 1024, seed=4)
    stream = TrickleStream(data)
    chunks = [bytes(v) for v, _ in file_chunks(stream, codec.chunk_id)]
    assert b"".join(chunks) == data
    assert [len(c) for c in chunks] == [n for _, n in cut_points(data)]


def test_an_edit_changes_only_the_chunks_around_it(codec: ChunkCodec) -> None:
    data = noise(32 * 1024 * 1024, seed=5)
    edited = data[:10_000_000] + b"inserted bytes" + data[10_000_000:]
    before = {chunk_id for _, chunk_id in chunked(data, codec)}
    after = [chunk_id for _, chunk_id in chunked(edited, codec)]
    assert sum(1 for c in after if c not in before) <= 2


def versions() -> dict[str, bytes]:
    old = noise(40 * 1024 * 1024, seed=6)
    in_place = old[:10_000_000] + b"X" * 5000 + old[10_005_000:]
    return {
        "in place": in_place,
        "in place twice": in_place[:30_000_000] + b"Y" + in_place[30_000_001:],
        "inserted": old[:25_000_000] + b"new" + old[25_000_000:],
        "grown": old + b"tail",
        "shrunk": old[:-1],
        "cut short": old[:30_000_000],
        "unrelated": noise(3 * 1024 * 1024, seed=8),
        "same": old,
        "empty": b"",
    }


@pytest.mark.parametrize("name", list(versions()))
def test_comparing_with_the_previous_version_gives_the_same_chunks(
    name: str, codec: ChunkCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = noise(40 * 1024 * 1024, seed=6)
    previous = [(chunk_id, len(data)) for data, chunk_id in chunked(old, codec)]
    new = versions()[name]
    cut_through = 0

    def counting(data: Buffer) -> Iterator[tuple[int, int]]:
        nonlocal cut_through
        for offset, length in cut_points(data):
            cut_through += length
            yield offset, length

    monkeypatch.setattr(chunks_module, "cut_points", counting)
    result = file_chunks(io.BytesIO(new), codec.chunk_id, previous=previous)
    assert [(bytes(v), i) for v, i in result] == chunked(new, codec)
    # In-place edits are chunked only around the edit; the rest is hashed and compared.
    if name.startswith("in place") or name == "same":
        assert cut_through < len(new) / 4


def tree() -> Tree:
    a, b = b"\x01" * 32, b"\x02" * 32
    entries = [
        Entry(".", EntryType.DIR, 0o755, 0, 0, 1),
        Entry("dir", EntryType.DIR, 0o750, 1, 2, 3),
        Entry("dir/file", EntryType.FILE, 0o644, 1, 2, 4, 30, "", 77, 5, [(a, 10), (b, 20)]),
        Entry("dir/same", EntryType.FILE, 0o600, 1, 2, 4, 20, "", 78, 5, [(b, 20)]),
        Entry("caf\udce9", EntryType.FILE, 0o600, 0, 0, 4, 0, "", 79, 5, []),
        Entry("link", EntryType.SYMLINK, 0o777, 0, 0, 6, target="dir/file"),
    ]
    locations = {a: Location("", 0, 39), b: Location("ab" * 16, 100, 49)}
    return Tree("20260101T000000Z-0123456789abcdef", "/src", entries, locations, "p", "t")


def test_snapshots_round_trip_and_share_chunk_rows() -> None:
    original = tree()
    data = encode(original, kind="snapshot")
    # Chunk b serves two files and is listed once.
    assert data.count(("02" * 32).encode()) == 1
    assert decode(data, what="s") == original


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b"])
def test_snapshots_with_unsafe_paths_are_refused(path: str) -> None:
    bad = tree()
    bad.entries[2].path = path
    with pytest.raises(IntegrityError, match="unsafe path"):
        decode(encode(bad, kind="snapshot"), what="snapshot x")


def test_snapshots_whose_chunks_miss_the_size_or_format_are_refused() -> None:
    bad = tree()
    bad.entries[2].size = 31
    with pytest.raises(IntegrityError, match="do not add up"):
        decode(encode(bad, kind="snapshot"), what="s")
    future = encode(tree(), kind="snapshot").replace(b'"format":1', b'"format":2')
    with pytest.raises(IntegrityError, match="format 2"):
        decode(future, what="s")
    with pytest.raises(IntegrityError, match="malformed"):
        decode(b'{"format": 1}', what="s")


def test_layout_keys() -> None:
    layout = Layout("team/a/")
    chunk_id = bytes(range(32))
    assert layout.chunk(chunk_id) == f"team/a/lifeboat-data/v1/chunks/00/{chunk_id.hex()}"
    assert layout.pack("ff" * 16) == f"team/a/lifeboat-data/v1/packs/ff/{'ff' * 16}"
    assert layout.snapshot("s") == "team/a/lifeboat-data/v1/snapshots/s.json.zst.enc"
    assert layout.relative(layout.index("p")) == "index/p"
    assert Layout("").chunks == "lifeboat-data/v1/chunks/"
    assert check_snapshot_id("20260101T000000Z-0123456789abcdef")
    with pytest.raises(ValueError, match="malformed"):
        check_snapshot_id("../../etc")


def test_resume_state_survives_json() -> None:
    state = ResumeState("20260101T000000Z-0123456789abcdef", 10, 2048, 3)
    assert ResumeState.from_json(state.to_json()) == state
    with pytest.raises(ValueError, match="not a resume state"):
        ResumeState.from_json("[]")
