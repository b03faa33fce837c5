"""Dictionary transport around the codec: the store, the options, and training.

Decoding goes through the zstd module given the dictionary as a raw prefix, as in
tests/dictionaries/test_dictionaries.py, never through our encoder.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from asgi_compress.__main__ import main as cli_main
from asgi_compress.cache import DictCache
from asgi_compress.dictionaries.options import DictionarySettings, ProvidedDictionary
from asgi_compress.dictionaries.transport import DictionaryStore, train_dictionary
from tests.harness.dcz import api_samples, bundle, decode_dcz, encoder_for

DIGEST = hashlib.sha256(b"dictionary").digest()  # of a dictionary no store holds

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

# -- the store -----------------------------------------------------------------------------------


async def test_store_finds_a_dictionary_by_its_hash() -> None:
    with anyio.fail_after(5):
        store = DictionaryStore()
        added = await store.add(b"the dictionary", match="/a/*", id="v1")
        assert added.sha256 == hashlib.sha256(b"the dictionary").digest()
        assert await store.get(added.sha256) == added
        assert await store.get(DIGEST) is None


async def test_store_evicts_least_recently_used_beyond_its_count() -> None:
    with anyio.fail_after(5):
        store = DictionaryStore(max_count=2)
        a, b = await store.add(b"a" * 10), await store.add(b"b" * 10)
        assert await store.get(a.sha256) == a  # a is now the most recently used
        c = await store.add(b"c" * 10)
        assert len(store) == 2
        assert await store.get(b.sha256) is None
        assert await store.get(a.sha256) == a and await store.get(c.sha256) == c


async def test_store_stays_within_its_bytes() -> None:
    with anyio.fail_after(5):
        store = DictionaryStore(max_bytes=100)
        first = await store.add(b"1" * 60)
        second = await store.add(b"2" * 60)
        assert store.size == 60
        assert await store.get(first.sha256) is None
        assert await store.get(second.sha256) == second
        too_big = await store.add(b"3" * 101)
        assert await store.get(too_big.sha256) is None
        assert store.size <= 100


class AsyncCache:
    """An aiocache-style backend: coroutine get/set over a DictCache."""

    def __init__(self) -> None:
        self.inner = DictCache()

    async def get(self, key: str) -> bytes | None:
        await anyio.lowlevel.checkpoint()
        return self.inner.get(key)

    async def set(self, key: str, value: bytes) -> None:
        await anyio.lowlevel.checkpoint()
        self.inner.set(key, value)


@pytest.mark.parametrize("backend_kind", ["sync", "async"])
async def test_a_dictionary_one_worker_stored_is_found_by_another(backend_kind: str) -> None:
    with anyio.fail_after(5):
        backend: Any = DictCache() if backend_kind == "sync" else AsyncCache()
        worker_one = DictionaryStore(backend=backend)
        worker_two = DictionaryStore(backend=backend)
        added = await worker_one.add(bundle(1), match="/static/app.*.js", id="app")
        assert await worker_two.get(added.sha256) == added


async def test_backend_value_with_wrong_bytes_is_not_used() -> None:
    """RFC 9842 section 9.1: the hash is validated before a dictionary is used."""
    with anyio.fail_after(5):
        backend = DictCache()
        added = await DictionaryStore(backend=backend).add(b"genuine")
        backend.set("dict:" + added.sha256.hex(), b'{"match":null,"id":""}\nforged')
        assert await DictionaryStore(backend=backend).get(added.sha256) is None


async def test_failing_backend_is_a_miss() -> None:
    class Broken:
        def get(self, key: str) -> bytes | None:
            raise ConnectionError("down")

        def set(self, key: str, value: bytes) -> None:
            raise ConnectionError("down")

    with anyio.fail_after(5):
        store = DictionaryStore(backend=Broken())
        added = await store.add(b"kept in memory anyway")
        assert await store.get(added.sha256) == added
        assert await store.get(DIGEST) is None


# -- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param({"dictionary_paths": ["/api/:id"]}, ValueError, "dictionary_paths",
                     id="bad-pattern"),
        pytest.param({"dictionary_paths": [3]}, TypeError, "dictionary_paths", id="not-str"),
        pytest.param({"dcz_level": 23}, ValueError, "dcz_level", id="level-range"),
        pytest.param({"dcz_level": "3"}, TypeError, "dcz_level", id="level-type"),
        pytest.param({"dictionary_max_count": -1}, ValueError, "dictionary_max_count",
                     id="negative-count"),
        pytest.param({"dictionary_cache": object()}, TypeError, "dictionary_cache",
                     id="cache-without-get-set"),
        pytest.param({"dictionaries": [b"raw"]}, TypeError, "dictionaries", id="not-provided"),
    ],
)  # fmt: skip
def test_bad_options_fail_naming_the_setting(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        DictionarySettings.from_options(**options)


def test_provided_dictionary_is_served_cacheable_and_announced() -> None:
    provided = ProvidedDictionary(b"trained bytes", match="/api/*", id="api-1")
    settings = DictionarySettings.from_options(dictionaries=[provided])
    assert settings.enabled
    assert settings.served_at(provided.url_path) is provided
    headers = dict(provided.response_headers())
    assert headers[b"use-as-dictionary"] == b'match="/api/*", id="api-1", type=raw'
    assert headers[b"cache-control"] == b"public, max-age=604800"
    assert settings.link_header() == (
        b"link",
        f'<{provided.url_path}>; rel="compression-dictionary"'.encode(),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"data": b"", "match": "/a"}, "1 to", id="empty"),
        pytest.param({"data": b"x", "match": "/a/:id"}, "not supported", id="bad-match"),
        pytest.param({"data": b"x", "match": "/a", "url_path": "/d/*"}, "literal",
                     id="wildcard-url-path"),
        pytest.param({"data": b"x", "match": "/a", "max_age": 0}, "max_age", id="max-age-0"),
    ],
)  # fmt: skip
def test_provided_dictionary_refuses_bad_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProvidedDictionary(**kwargs)


async def test_provided_dictionary_is_found_by_hash_before_the_store() -> None:
    with anyio.fail_after(5):
        provided = ProvidedDictionary(b"trained bytes", match="/api/*")
        settings = DictionarySettings.from_options(dictionaries=[provided], dictionary_max_count=0)
        assert await settings.lookup(provided.dictionary.sha256) == provided.dictionary
        assert await settings.lookup(None) is None


# -- training ------------------------------------------------------------------------------------


def test_trained_dictionary_beats_zstd_alone_on_held_out_responses() -> None:
    samples = api_samples(600)
    dictionary = train_dictionary(samples[:500], 16 * 1024)
    held_out = samples[500:]
    with_dictionary = sum(len(encoder_for(dictionary).finish(s)) for s in held_out)
    alone = sum(len(zstd.compress(s, 3)) for s in held_out)
    assert with_dictionary * 3 < alone * 2  # at least a third smaller


def test_train_dictionary_command_writes_a_dictionary(tmp_path: Path) -> None:
    samples_dir = tmp_path / "samples"
    samples_dir.mkdir()
    for i, sample in enumerate(api_samples(200)):
        (samples_dir / f"{i}.json").write_bytes(sample)
    output = tmp_path / "api.dict"
    assert (
        cli_main(["train-dictionary", str(samples_dir), "-o", str(output), "--size", "4096"]) == 0
    )
    data = output.read_bytes()
    assert 0 < len(data) <= 4096
    sample = api_samples(201)[200]
    assert decode_dcz(encoder_for(data).finish(sample), data) == sample


def test_train_dictionary_command_reports_too_few_samples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "one.json").write_bytes(b"{}")
    assert cli_main(["train-dictionary", str(tmp_path), "-o", str(tmp_path / "d")]) == 2
    assert "at least 8" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
