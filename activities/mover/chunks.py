"""The pure building blocks of the repository format: keys, chunk ids, chunking and sealing.

Nothing here touches a store, so all of it is tested without a server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import blake3
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# The compiled chunker only: the pure-Python fallback of the `fastcdc` package is ~100x slower,
# and a mover that silently crawls is worse than one that refuses to start.
from fastcdc.fastcdc_cy import fastcdc_cy  # type: ignore[import-untyped]

from activities.mover.errors import IntegrityError

# Content-defined chunking (FastCDC). Changing any of these changes every chunk boundary, so
# they belong to format version 1: a new chunker is a new repository version.
CHUNK_MIN = 256 * 1024
CHUNK_AVG = 1024 * 1024
CHUNK_MAX = 4 * 1024 * 1024
# Bytes read from a file at a time; several maximum chunks long, so that moving the unused
# tail of the buffer to its front before each read costs little.
SEGMENT_SIZE = 16 * 1024 * 1024

ZSTD_LEVEL = 3
# Compressed output must save at least this fraction, else the chunk is stored raw: decoding
# a raw chunk is free, and zstd frames of random data are slightly larger than the data.
MIN_SAVING = 0.03
PROBE_SIZE = 16 * 1024

CODEC_RAW = 0
CODEC_ZSTD = 1
NONCE_SIZE = 12
TAG_SIZE = 16
HEADER_SIZE = 1 + NONCE_SIZE
ID_SIZE = 32

_HKDF_SALT = b"lifeboat-mover/v1"
_ID_KEY_INFO = b"lifeboat-mover/v1 chunk-id blake3 key"
_CIPHER_KEY_INFO = b"lifeboat-mover/v1 aes-256-gcm key"
MIN_LOCATION_KEY = 16

Buffer = bytes | bytearray | memoryview


class Readable(Protocol):
    """A binary stream (a file opened with "rb", `io.BytesIO`, a raw stream)."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


def derive_key(location_key: bytes, info: bytes) -> bytes:
    """A 256-bit key for one purpose (`info`), derived from the location key with HKDF-SHA256.

    Separate keys per purpose mean the chunk ids (public: they are object names) reveal nothing
    about the encryption key, and neither reveals the location key.
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=info)
    return hkdf.derive(location_key)


class ChunkCodec:
    """Chunk ids and sealed blobs for one location key; safe to share between threads.

    A sealed blob is `codec (1 byte) | nonce (12) | AES-256-GCM ciphertext and tag (16)`. The
    authenticated data is the codec byte plus a context naming what the blob is (a chunk id, a
    snapshot's key, ...), so a blob moved to another name or with a flipped codec fails to open.
    """

    def __init__(self, location_key: bytes, *, level: int = ZSTD_LEVEL) -> None:
        if len(location_key) < MIN_LOCATION_KEY:
            raise ValueError(
                f"the location key must be at least {MIN_LOCATION_KEY} bytes, "
                f"got {len(location_key)}"
            )
        self._id_key = derive_key(location_key, _ID_KEY_INFO)
        self._cipher = AESGCM(derive_key(location_key, _CIPHER_KEY_INFO))
        self._level = level
        # zstd contexts are not thread-safe, and making one per call costs more than small
        # chunks take to compress: one per thread.
        self._local = threading.local()

    def chunk_id(self, data: Buffer) -> bytes:
        """The keyed BLAKE3 hash of a chunk's plaintext: its name in the repository.

        On one thread: backups and restores already work on several chunks at once, and
        BLAKE3's own thread pool on top only added contention (a 2 GiB full backup took
        1.7 CPU-seconds less without it, leaving them to the S3 server on a small machine).
        """
        return blake3.blake3(data, key=self._id_key).digest()

    def _compressor(self) -> zstandard.ZstdCompressor:
        compressor: zstandard.ZstdCompressor | None = getattr(self._local, "compressor", None)
        if compressor is None:
            compressor = zstandard.ZstdCompressor(level=self._level)
            self._local.compressor = compressor
        return compressor

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        decompressor: zstandard.ZstdDecompressor | None = getattr(self._local, "decompressor", None)
        if decompressor is None:
            decompressor = zstandard.ZstdDecompressor()
            self._local.decompressor = decompressor
        return decompressor

    def _compressible(self, data: Buffer) -> bool:
        """Whether compressing `data` may pay, judged from two samples (start and middle).

        Random-looking data (media, encrypted or already compressed files) does not compress;
        probing 1/32 of such a chunk instead of compressing all of it saves ~0.7 s of CPU per
        GiB, which on a small machine shared with the S3 server is upload throughput.
        """
        if len(data) <= 4 * PROBE_SIZE:
            return len(data) > 0
        compressor = self._compressor()
        middle = len(data) // 2
        view = memoryview(data)
        return any(
            len(compressor.compress(view[start : start + PROBE_SIZE]))
            <= PROBE_SIZE * (1 - MIN_SAVING)
            for start in (0, middle)
        )

    def seal(self, data: Buffer, context: bytes, *, compress: bool = True) -> bytes:
        """Compress (when it pays) and encrypt `data` under a fresh random nonce."""
        codec, payload = CODEC_RAW, data
        if compress and self._compressible(data):
            packed = self._compressor().compress(data)
            if len(packed) <= len(data) * (1 - MIN_SAVING):
                codec, payload = CODEC_ZSTD, packed
        header = bytes((codec,)) + os.urandom(NONCE_SIZE)
        sealed = self._cipher.encrypt(header[1:], payload, header[:1] + context)
        return header + sealed

    def open(self, blob: Buffer, context: bytes, *, what: str) -> bytes:
        """The plaintext of a sealed blob; `IntegrityError` naming `what` if it was altered."""
        view = memoryview(blob)
        if len(view) < HEADER_SIZE + TAG_SIZE or view[0] not in (CODEC_RAW, CODEC_ZSTD):
            raise IntegrityError(f"{what} is damaged: not a sealed blob ({len(view)} bytes)")
        try:
            payload = self._cipher.decrypt(
                view[1:HEADER_SIZE], view[HEADER_SIZE:], bytes(view[:1]) + context
            )
        except InvalidTag:
            raise IntegrityError(
                f"{what} failed its authentication check: it was tampered with or corrupted, "
                "or the location key is wrong"
            ) from None
        if view[0] == CODEC_RAW:
            return payload
        try:
            return self._decompressor().decompress(payload)
        except zstandard.ZstdError as error:
            raise IntegrityError(f"{what} does not decompress: {error}") from None

    def seal_chunk(self, chunk_id: bytes, data: Buffer) -> bytes:
        """A chunk's blob, bound to its id."""
        return self.seal(data, b"chunk:" + chunk_id)

    def open_chunk(self, chunk_id: bytes, blob: Buffer, *, where: str) -> bytes:
        """A chunk's plaintext, checked twice: the GCM tag and the keyed hash of the plaintext."""
        what = f"chunk {chunk_id.hex()} (in {where})"
        plaintext = self.open(blob, b"chunk:" + chunk_id, what=what)
        if self.chunk_id(plaintext) != chunk_id:
            raise IntegrityError(f"{what} does not match its hash: tampered with or corrupted")
        return plaintext


def cut_points(data: Buffer) -> Iterator[tuple[int, int]]:
    """(offset, length) of each content-defined chunk of `data`, in order."""
    if not len(data):
        return
    for chunk in fastcdc_cy(data, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX):
        yield chunk.offset, chunk.length


def read_buffer() -> bytearray:
    """A buffer for `file_chunks`, meant to be reused from file to file: fresh memory costs a
    page fault per 4 KiB, more than copying the data does."""
    return bytearray(SEGMENT_SIZE + 2 * CHUNK_MAX)


class _Window:
    """Bytes `[offset, offset + n)` of a stream on demand, read into one reused buffer.

    Offsets only move forward; a view is valid until the next call.
    """

    def __init__(self, stream: Readable, buffer: bytearray, first_read: int) -> None:
        self._stream = stream
        self._buffer = memoryview(buffer)
        self._next_read = first_read
        self._start = 0  # the stream offset of the buffer's first byte
        self._filled = 0
        self._at_end = False

    def view(self, offset: int, size: int) -> memoryview:
        """The bytes at `offset`, `size` of them or fewer at the end of the stream."""
        if offset + size > self._start + self._filled and not self._at_end:
            keep = offset - self._start
            kept = self._filled - keep
            self._buffer[:kept] = self._buffer[keep : self._filled]
            want = min(len(self._buffer) - kept, max(self._next_read, size))
            got = _read_into(self._stream, self._buffer[kept : kept + want])
            self._at_end = got < want
            self._next_read = SEGMENT_SIZE
            self._start, self._filled = offset, kept + got
        begin = offset - self._start
        return self._buffer[begin : min(begin + size, self._filled)]


def file_chunks(
    stream: Readable,
    chunk_id: Callable[[Buffer], bytes],
    *,
    previous: Sequence[tuple[bytes, int]] = (),
    first_read: int = SEGMENT_SIZE,
    buffer: bytearray | None = None,
) -> Iterator[tuple[memoryview, bytes]]:
    """The content-defined chunks of a stream with their ids.

    Each chunk is a view into `buffer` (see `read_buffer`), valid until the next chunk is
    asked for: copy what must outlive that. `first_read` sizes the first read: a file's size
    plus one reads a small file and finds its end in one call.

    `previous` is the chunk list of an earlier version of the file. Where one of its chunks
    starts at the current offset, the same number of bytes are hashed and compared instead of
    being chunked: a cut depends only on the bytes since the last cut, so the same bytes from
    the same boundary make the same chunk, and the result equals chunking from scratch. Files
    edited in place (databases, disk images) then cost a hash of their unchanged parts
    (~5 GB/s) rather than chunking them (~1.7 GB/s); after an edit, chunking resumes, and
    comparing picks up again at the first boundary both versions share.
    """
    starts: dict[int, int] = {}
    offset = 0
    for position, (_, size) in enumerate(previous):
        starts[offset] = position
        offset += size
    window = _Window(stream, buffer if buffer is not None else read_buffer(), first_read)
    offset = 0
    index: int | None = starts.get(0)
    while True:
        if index is not None:
            expected, size = previous[index]
            # The old last chunk may have been cut by the end of the file rather than by its
            # content: it stands only where the file still ends right after it.
            last = index == len(previous) - 1
            data = window.view(offset, size + 1 if last else size)
            if len(data) == size:
                found = chunk_id(data)
                if found == expected:
                    yield data, found
                    offset += size
                    index = None if last else index + 1
                    continue
        data = window.view(offset, CHUNK_MAX)
        if not data:
            return
        chunk = data[: next(cut_points(data))[1]]
        yield chunk, chunk_id(chunk)
        offset += len(chunk)
        index = starts.get(offset)


def _read_into(stream: Readable, target: memoryview) -> int:
    """Fill `target`; fewer bytes only at the end of the stream (raw streams read short)."""
    done = 0
    while done < len(target):
        count = stream.readinto(target[done:])
        if not count:
            break
        done += count
    return done
