"""Precompressed siblings (issue 18): ``app.js.br`` served in place of encoding ``app.js``.

Starlette's ``StaticFiles`` over a temporary directory, driven by the message-recording
harness (a server without the path send extension, as uvicorn, and one with it, as granian)
and by a real uvicorn. Each sibling is made with settings the middleware never uses, so its
exact bytes tell whether it was served.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
from starlette.staticfiles import StaticFiles

from asgi_compress import CompressMiddleware

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

from tests.apps.precompressed_app import DIR_ENV
from tests.harness import REPO, make_scope, run, text
from tests.harness.servers import serve, server_unavailable_reason

# Starlette's FileResponse sends a file by path (http.response.pathsend) from 0.47 on; before,
# it sends body chunks, which carry no path to find a sibling by (docs/guides/precompressed.md).
sends_paths = pytest.mark.skipif(
    tuple(int(part) for part in version("starlette").split(".")[:2]) < (0, 47),
    reason="Starlette < 0.47 never sends http.response.pathsend",
)

PATHSEND = "http.response.pathsend"
SOURCE = text(40_000, seed=3)
# Not what the middleware would send (br quality 4 or 11, window 22): a different length.
SIBLING = brotli.compress(SOURCE, quality=1, lgwin=10)


@pytest.fixture
def static(tmp_path: Path) -> Path:
    (tmp_path / "app.js").write_bytes(SOURCE)
    (tmp_path / "app.js.br").write_bytes(SIBLING)
    return tmp_path


def middleware(directory: Path, **options: Any) -> CompressMiddleware:
    return CompressMiddleware(StaticFiles(directory=directory), **options)


SERVER_OFFERS = [
    pytest.param(None, id="no-pathsend"),  # uvicorn, hypercorn
    pytest.param({PATHSEND: {}}, id="pathsend"),  # granian
]


@sends_paths
@pytest.mark.parametrize("extensions", SERVER_OFFERS)
async def test_fresh_sibling_is_sent_as_it_is(
    static: Path, extensions: dict[str, Any] | None
) -> None:
    app = middleware(static)
    scope = make_scope(path="/app.js", accept_encoding="br", extensions=extensions)
    rec = await run(app, scope)
    assert rec.status == 200
    assert rec.headers["content-encoding"] == "br"
    assert rec.headers["content-length"] == str(len(SIBLING))
    assert rec.headers["vary"] == "Accept-Encoding"
    kinds = [m["type"] for m in rec.messages]
    if extensions is None:
        assert PATHSEND not in kinds  # never sent to a server that did not offer it
        assert rec.body == SIBLING
    else:
        assert rec.messages[-1] == {"type": PATHSEND, "path": str(static / "app.js.br")}
    assert brotli.decompress((static / "app.js.br").read_bytes()) == SOURCE


@pytest.mark.parametrize("extensions", SERVER_OFFERS)
async def test_stale_sibling_is_not_used(static: Path, extensions: dict[str, Any] | None) -> None:
    source = os.stat(static / "app.js")
    os.utime(static / "app.js.br", ns=(source.st_atime_ns, source.st_mtime_ns - 10**9))
    scope = make_scope(path="/app.js", accept_encoding="br", extensions=extensions)
    rec = await run(middleware(static), scope)
    assert rec.headers["content-encoding"] == "br"
    assert PATHSEND not in [m["type"] for m in rec.messages]
    assert rec.body != SIBLING
    assert brotli.decompress(rec.body) == SOURCE


async def test_a_sibling_of_a_coding_not_accepted_is_never_sent(static: Path) -> None:
    gzipped = await run(middleware(static), path="/app.js", accept_encoding="gzip")
    assert gzipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(gzipped.body) == SOURCE

    plain = await run(middleware(static), path="/app.js", accept_encoding="identity")
    assert "content-encoding" not in plain.headers
    assert plain.body == SOURCE
    assert plain.headers["content-length"] == str(len(SOURCE))


@sends_paths
async def test_zstd_sibling_for_a_zstd_client(static: Path) -> None:
    sibling = zstd.compress(SOURCE, level=1)
    (static / "app.js.zst").write_bytes(sibling)
    rec = await run(middleware(static), path="/app.js", accept_encoding="zstd")
    assert rec.headers["content-encoding"] == "zstd"
    assert rec.body == sibling


@sends_paths
async def test_if_none_match_with_the_siblings_etag_is_304(static: Path) -> None:
    app = middleware(static)
    first = await run(app, path="/app.js", accept_encoding="br")
    assert first.body == SIBLING
    etag = first.headers["etag"]
    assert ":br" in etag
    again = await run(app, path="/app.js", accept_encoding="br", headers=[("if-none-match", etag)])
    assert again.status == 304
    assert again.body == b""
    assert again.headers["etag"] == etag


async def test_head_agrees_with_get(static: Path) -> None:
    app = middleware(static)
    got = await run(app, path="/app.js", accept_encoding="br")
    head = await run(app, method="HEAD", path="/app.js", accept_encoding="br")
    assert head.body == b""
    for name in ("content-encoding", "etag", "vary", "content-type"):
        assert head.headers[name] == got.headers[name]
    # RFC 9110 section 9.3.2: a HEAD may leave out a length known only from the body.
    assert (
        head.headers.get("content-length", got.headers["content-length"])
        == (got.headers["content-length"])
    )


async def test_precompressed_false_encodes_the_file(static: Path) -> None:
    rec = await run(middleware(static, precompressed=False), path="/app.js", accept_encoding="br")
    assert rec.headers["content-encoding"] == "br"
    assert rec.body != SIBLING
    assert brotli.decompress(rec.body) == SOURCE


async def test_an_uncompressible_file_is_sent_whole_without_pathsend(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    (tmp_path / "logo.png").write_bytes(data)
    rec = await run(middleware(tmp_path), path="/logo.png", accept_encoding="br")
    assert "content-encoding" not in rec.headers
    assert PATHSEND not in [m["type"] for m in rec.messages]
    assert rec.body == data
    assert rec.bodies[-1]["more_body"] is False


def test_precompressed_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="precompressed"):
        CompressMiddleware(StaticFiles(directory=REPO), precompressed="yes")  # type: ignore[arg-type]


@sends_paths
@pytest.mark.interop
def test_uvicorn_serves_the_sibling(static: Path) -> None:
    reason = server_unavailable_reason("uvicorn-h11")
    if reason is not None:
        pytest.skip(reason)
    env = {**os.environ, DIR_ENV: str(static), "PYTHONPATH": str(REPO)}
    with (
        serve("tests.apps.precompressed_app:app", "uvicorn-h11", env=env, cwd=REPO) as base,
        httpx.Client(base_url=base, timeout=10) as client,
        client.stream("GET", "/app.js", headers={"accept-encoding": "br"}) as response,
    ):
        raw = b"".join(response.iter_raw())
        assert response.headers["content-encoding"] == "br"
        assert response.headers["content-length"] == str(len(SIBLING))
    assert raw == SIBLING


def precompress_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asgi_compress", "precompress", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )


def test_cli_writes_siblings_that_decode_to_their_file(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_bytes(SOURCE)
    (tmp_path / "logo.png").write_bytes(os.urandom(5_000))  # not a compressible type
    (tmp_path / "tiny.txt").write_bytes(b"hi")  # below min_size
    (tmp_path / "noise.txt").write_bytes(os.urandom(5_000))  # would not be smaller
    done = precompress_cli(str(tmp_path))
    assert done.returncode == 0, done.stderr
    app = tmp_path / "js" / "app.js"
    assert brotli.decompress(Path(f"{app}.br").read_bytes()) == SOURCE
    assert zstd.decompress(Path(f"{app}.zst").read_bytes()) == SOURCE
    assert gzip.decompress(Path(f"{app}.gz").read_bytes()) == SOURCE
    for sibling in (".br", ".zst", ".gz"):
        assert os.stat(f"{app}{sibling}").st_mtime_ns >= os.stat(app).st_mtime_ns
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert written == [
        "js",
        "js/app.js",
        "js/app.js.br",
        "js/app.js.gz",
        "js/app.js.zst",
        "logo.png",
        "noise.txt",
        "tiny.txt",
    ]
    assert "3 siblings written" in done.stdout

    # A second run leaves fresh siblings alone; a stale one is rewritten.
    before = {s: os.stat(f"{app}{s}").st_mtime_ns for s in (".br", ".zst", ".gz")}
    stale = os.stat(app).st_mtime_ns - 10**9
    os.utime(f"{app}.gz", ns=(stale, stale))
    again = precompress_cli(str(tmp_path), "--codings", "br,gzip")
    assert again.returncode == 0, again.stderr
    assert "1 siblings written, 1 already fresh" in again.stdout
    assert os.stat(f"{app}.br").st_mtime_ns == before[".br"]
    assert os.stat(f"{app}.gz").st_mtime_ns >= os.stat(app).st_mtime_ns
    assert gzip.decompress(Path(f"{app}.gz").read_bytes()) == SOURCE


def test_cli_rejects_a_coding_without_siblings(tmp_path: Path) -> None:
    done = precompress_cli(str(tmp_path), "--codings", "deflate")
    assert done.returncode != 0
    assert "--codings" in done.stderr
