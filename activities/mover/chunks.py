"""The pure building blocks of the repository format: keys, chunk ids, chunking and sealing.

Nothing here touches a store or a file system, so all of it is tested without a server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import BinaryIO

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
# Bytes read from a file per chunking pass; several maximum chunks long, so that carrying the
# last (possibly cut short) chunk over to the next pass costs little.
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
        """The keyed BLAKE3 hash of a chunk's plaintext: its name in the repository."""
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

        Random-looking data (media, encrypted or compressed files) is half of a typical
        volume; probing 1/32 of a chunk instead of compressing all of it saves a CPU core's
        worth of time per few GiB, which on small machines is upload throughput.
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


def file_chunks(
    stream: BinaryIO, *, first_read: int = SEGMENT_SIZE, segment_size: int = SEGMENT_SIZE
) -> Iterator[memoryview]:
    """The content-defined chunks of a stream, read `segment_size` bytes at a time.

    `first_read` sizes the first read: a file's size plus one reads a small file whole, and
    its end, in one call without allocating a full segment.

    Boundaries are the same as chunking the whole stream at once: every cut but the last of a
    segment depends only on bytes before it; the last may be the segment's end rather than a
    real cut, so it is carried over and chunked again with the next segment. The views share
    read-only buffers, so they may be handed to other threads as they are.
    """
    carry: memoryview | None = None
    size = first_read
    while True:
        fresh = _read_fully(stream, size)
        at_end = len(fresh) < size
        size = segment_size
        data = memoryview(b"".join((carry, fresh)) if carry is not None else fresh)
        cuts = list(cut_points(data))
        if not at_end and cuts:
            offset, _ = cuts.pop()
            carry = data[offset:]
        for offset, length in cuts:
            yield data[offset : offset + length]
        if at_end:
            return


def _read_fully(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, fewer only at the end of the stream (raw streams may return short reads)."""
    data = stream.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    missing = size - len(data)
    while missing:
        more = stream.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)
