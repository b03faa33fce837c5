"""``python -m asgi_compress warm``: static files compressed ahead of time, content-addressed.

The command runs as a user runs it (a subprocess); its entries are then looked up the way
the server does, and what they hold is compared with the codec libraries' own output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import anyio
import brotli
import pytest

from asgi_compress import CompressMiddleware, DirectoryCache, ResponseCache
from asgi_compress.settings import Settings
from tests.harness import REPO, run, text

ENCODERS = Settings.from_options().encoders
LEVELS = {"br": 11, "gzip": 9}


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "js").mkdir(parents=True)
    (static / "js" / "app.js").write_bytes(text(30_000, seed=7))
    (static / "style.css").write_bytes(text(8_000, seed=8))
    (static / "logo.png").write_bytes(os.urandom(5_000))  # not a compressible type
    (static / "tiny.txt").write_bytes(b"hi")  # below min_size
    return static


def warm_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "asgi_compress", "warm", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_warm_stores_every_eligible_file_at_the_cache_levels(
    static_dir: Path, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "cache"
    done = warm_cli(str(static_dir), "--cache", str(cache_dir), "--levels", "br=11,gzip=9")
    assert done.returncode == 0, done.stderr
    assert "4 entries stored, 0 already there, 2 files skipped" in done.stdout
    cache = ResponseCache(DirectoryCache(cache_dir), levels=LEVELS)
    with anyio.fail_after(10):
        for name in ("js/app.js", "style.css"):
            data = (static_dir / name).read_bytes()
            br = await cache.lookup("br", data, ENCODERS["br"])
            gz = await cache.lookup("gzip", data, ENCODERS["gzip"])
            assert br.encoded == brotli.compress(data, quality=11, lgwin=22)
            assert gz.encoded is not None and zlib.decompress(gz.encoded, 31) == data
            assert gz.encoded[8] == 2  # RFC 1952 XFL: maximum compression
        for name in ("logo.png", "tiny.txt"):
            data = (static_dir / name).read_bytes()
            assert not (await cache.lookup("br", data, ENCODERS["br"])).hit
    again = warm_cli(str(static_dir), "--cache", str(cache_dir), "--levels", "br=11,gzip=9")
    assert "0 entries stored, 4 already there" in again.stdout


async def test_a_file_changed_after_warming_is_a_miss(static_dir: Path, tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    assert warm_cli(str(static_dir), "--cache", str(cache_dir), "--levels", "br=5").returncode == 0
    (static_dir / "style.css").write_bytes(text(8_000, seed=9))
    cache = ResponseCache(DirectoryCache(cache_dir), levels={"br": 5})
    with anyio.fail_after(10):
        found = await cache.lookup("br", (static_dir / "style.css").read_bytes(), ENCODERS["br"])
    assert not found.hit


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--levels", "br=12"], "cache_levels['br'] must be in 0..11", id="range"),
        pytest.param(["--levels", "br:11"], "expected coding=level", id="syntax"),
        pytest.param(["--levels", "lzma=3"], "unknown coding 'lzma'", id="coding"),
    ],
)
def test_warm_rejects_bad_levels_with_a_message(
    static_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    done = warm_cli(str(static_dir), "--cache", str(tmp_path / "cache"), *args)
    assert done.returncode != 0
    assert message in done.stderr


def test_warm_needs_a_directory(tmp_path: Path) -> None:
    done = warm_cli(str(tmp_path / "missing"), "--cache", str(tmp_path / "cache"))
    assert done.returncode != 0
    assert "is not a directory" in done.stderr


async def test_staticfiles_serves_warmed_entries_from_the_first_request(
    static_dir: Path, tmp_path: Path
) -> None:
    from starlette.staticfiles import StaticFiles

    cache_dir = tmp_path / "cache"
    assert warm_cli(str(static_dir), "--cache", str(cache_dir), "--levels", "br=11").returncode == 0
    app = CompressMiddleware(
        StaticFiles(directory=static_dir), cache=DirectoryCache(cache_dir), cache_levels={"br": 11}
    )
    data = (static_dir / "js" / "app.js").read_bytes()
    with anyio.fail_after(10):
        got = await run(app, path="/js/app.js", accept_encoding="br")
    assert got.body == brotli.compress(data, quality=11, lgwin=22)
