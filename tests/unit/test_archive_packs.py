"""Archive packs: how objects are packed, and every way a pack can be refused."""

from __future__ import annotations

from typing import Any

import pytest

from lifeboat.archive import (
    PACK_MAX_BYTES,
    PACK_MAX_OBJECTS,
    ArchiveError,
    Pack,
    PackWriter,
    Sealer,
    check_manifest,
    digest,
    open_pack,
)

SEALER = Sealer(b"a-location-key-of-some-length-0123")


def _config_map(i: int, size: int = 10) -> dict[str, Any]:
    meta = {"name": f"c{i}", "namespace": "shop"}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": "x" * size}}


def _packed(objects: list[dict[str, Any]]) -> list[tuple[Pack, bytes]]:
    writer = PackWriter(SEALER, "prefix", "backup-1", "configmaps")
    sealed = [p for p in (writer.add(o) for o in objects) if p is not None]
    last = writer.close()
    return sealed + ([last] if last else [])


def test_a_pack_closes_at_its_object_limit_and_keeps_the_order() -> None:
    objects = [_config_map(i) for i in range(PACK_MAX_OBJECTS + 3)]
    packs = _packed(objects)
    assert [p.count for p, _ in packs] == [PACK_MAX_OBJECTS, 3]
    assert packs[0][0].key.endswith("/packs/configmaps/000000.jsonl.zst.sealed")
    assert packs[1][0].key.endswith("/packs/configmaps/000001.jsonl.zst.sealed")
    read = [obj for pack, blob in packs for obj in open_pack(SEALER, pack, blob)]
    assert read == objects


def test_a_pack_closes_at_its_size_limit() -> None:
    objects = [_config_map(i, size=PACK_MAX_BYTES // 10) for i in range(25)]
    packs = _packed(objects)
    assert len(packs) == 3 and sum(p.count for p, _ in packs) == 25
    assert all(p.size == len(blob) and p.sha256 == digest(blob) for p, blob in packs)


def test_a_pack_missing_truncated_modified_or_substituted_is_refused_naming_it() -> None:
    (pack, blob), = _packed([_config_map(i) for i in range(5)])  # fmt: skip
    other_writer = PackWriter(SEALER, "prefix", "backup-2", "configmaps")
    for i in range(5):
        other_writer.add(_config_map(i))
    other = other_writer.close()
    assert other is not None

    refusals = {
        "missing from the bucket": None,
        "truncated": blob[:-10],
        "modified or substituted": blob[:-1] + bytes([blob[-1] ^ 1]),
    }
    for words, stored in refusals.items():
        with pytest.raises(ArchiveError, match=words) as refused:
            open_pack(SEALER, pack, stored)
        assert pack.key in str(refused.value) and "5 configmaps objects" in str(refused.value)
    # Another backup's pack of the same objects: same size, another digest.
    assert len(other[1]) == len(blob)
    with pytest.raises(ArchiveError, match="substituted"):
        open_pack(SEALER, pack, other[1])
    # Even with a manifest that lied about the digest, the seal binds the pack to its key.
    moved = Pack(pack.key, pack.type, pack.count, len(other[1]), digest(other[1]))
    with pytest.raises(ArchiveError, match="altered or sealed with another key"):
        open_pack(SEALER, moved, other[1])


def test_a_manifest_unlike_the_catalogs_digest_is_refused() -> None:
    blob = SEALER.seal_json({"resources": []}, name="m")
    check_manifest(blob, key="m", expected_sha256=digest(blob))
    check_manifest(blob, key="m", expected_sha256="")  # a backup from before digests
    with pytest.raises(ArchiveError, match=r"m does not match .* substituted"):
        check_manifest(SEALER.seal_json({"resources": []}, name="m"), key="m",
                       expected_sha256=digest(blob))  # fmt: skip
