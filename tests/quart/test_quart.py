"""The Quart extension: Flask-Compress 1.25's API and COMPRESS_* settings on the core middleware.

Quart's test client does not decompress: bodies are decoded here with the harness's independent
decoders. Where a test mirrors one of Flask-Compress's own tests, its docstring names it
("upstream #17", from the behaviour notes' list); where we differ on purpose, it says so.
Quart runs on asyncio only.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.lowlevel
import httpx
import pytest
from quart import Quart, Request, Response, after_this_request, request, send_file, session
from quart.testing import QuartClient
from quart.typing import ResponseTypes
from werkzeug.datastructures import Headers

from asgi_compress import CacheBackend, Compress, DictCache
from asgi_compress._types import ASGIApp, Message
from asgi_compress.policy import SCOPE_KEY, ResponsePolicy
from asgi_compress.quart._config import EXTENSION_DEFAULTS, config_defaults
from asgi_compress.settings import DEFAULT_THREAD_MIN_SIZE
from tests.harness import ENCODINGS, REPO, Decoder, Recorded, decode, make_scope, run, text
from tests.harness.mediatypes import FLASK_COMPRESS_MIMETYPES


@pytest.fixture
def anyio_backend() -> str:
    """Quart runs on asyncio only (this overrides conftest's asyncio + trio)."""
    return "asyncio"


EXAMPLES = REPO / "examples"


LARGE = text(969 * 4).decode()  # above COMPRESS_MIN_SIZE (upstream's large.html is 969 B)
SMALL = text(45).decode()  # below it (upstream's small.html)
STREAM_CHUNKS = [text(300, seed=i) for i in range(6)]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _random_words(size: int) -> str:
    """Text with little repetition, so that every codec parameter shows in the output size."""
    rng = random.Random(1)
    words = [
        "".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(2, 9)))
        for _ in range(3000)
    ]
    out: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(words)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:size]


VARIED = _random_words(131_072)


@dataclass
class Fetched:
    """A response as the client got it: status, headers, raw (still encoded) body."""

    status: int
    headers: Headers
    body: bytes

    @property
    def encoding(self) -> str | None:
        return self.headers.get("Content-Encoding")

    def decoded(self) -> bytes:
        return decode(self.encoding, self.body) if self.encoding else self.body

    def vary(self) -> list[str]:
        return [v.strip().lower() for line in self.headers.getlist("Vary") for v in line.split(",")]


async def fetch(
    app: Quart,
    path: str,
    accept: str | None = "br",
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> Fetched:
    all_headers = dict(headers or {})
    if accept is not None:
        all_headers["Accept-Encoding"] = accept
    client = cast("QuartClient", app.test_client())  # the protocol's open() lacks defaults
    response = await client.open(path, method=method, headers=all_headers)
    return Fetched(response.status_code, response.headers, await response.get_data(as_text=False))


async def asgi_fetch(
    app: Quart,
    path: str,
    accept: str | None = "br",
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> Recorded:
    """The request through the ASGI interface, every message recorded as the server gets it.

    The test client rebuilds a ``Response`` from what it got, which adds a Content-Type and a
    Content-Length of its own; header-exact checks go this way instead.
    """
    scope = make_scope(
        method=method, path=path, headers=(headers or {}).items(), accept_encoding=accept
    )
    return await run(cast("ASGIApp", app), scope)


def new_app(static_folder: Path | None = None, **config: Any) -> tuple[Quart, Compress]:
    """An app with upstream's routes (``/large/``, ``/small/``) and a few more, set up with
    ``config`` and ``Compress(app)``."""
    app = Quart(
        __name__,
        static_folder=str(static_folder) if static_folder is not None else None,
        static_url_path="/static",
    )
    app.config.update(config)
    compress = Compress(app)
    add_routes(app, compress)
    return app, compress


def add_routes(app: Quart, compress: Compress) -> None:
    app.config["VIEW_CALLS"] = 0

    @app.route("/large/")
    async def large() -> str:
        app.config["VIEW_CALLS"] += 1
        return LARGE

    @app.route("/small/")
    async def small() -> str:
        return SMALL

    @app.route("/varied")
    async def varied() -> str:
        return VARIED

    @app.route("/json")
    async def json() -> dict[str, Any]:
        return {"items": [{"id": i, "name": f"item {i}"} for i in range(100)]}

    @app.route("/png")
    async def png() -> Response:
        return Response(PNG, mimetype="image/png")

    @app.route("/stream")
    async def stream() -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in STREAM_CHUNKS:
                yield chunk

        response = Response(chunks(), mimetype="text/plain")
        response.set_etag("stream-etag")
        return response

    @app.route("/etag/<kind>")
    async def etag(kind: str) -> Response:
        response = Response(LARGE, mimetype="text/html")
        response.set_etag("abc123", weak=kind == "weak")
        response.headers["Last-Modified"] = "Wed, 21 Oct 2015 07:28:00 GMT"
        return response


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    """Files for the static route: one under Quart's 8 KiB chunk, one over, a PNG."""
    (tmp_path / "small.css").write_bytes(text(3000))
    (tmp_path / "big.txt").write_bytes(text(40_000, seed=3))
    (tmp_path / "1.png").write_bytes(PNG)
    return tmp_path


# -- settings: defaults, validation, live and snapshot keys ------------------------------------


UPSTREAM_DEFAULTS = [
    pytest.param("COMPRESS_MIMETYPES", list(FLASK_COMPRESS_MIMETYPES), id="1"),
    pytest.param("COMPRESS_LEVEL", 6, id="2"),
    pytest.param("COMPRESS_MIN_SIZE", 500, id="3"),
    pytest.param("COMPRESS_ALGORITHM", ["zstd", "br", "gzip", "deflate"], id="4"),
    # Upstream #5 is ["zstd", "br", "deflate"]: streams are flushed per chunk here, so gzip
    # suits them too, and the streaming list defaults to COMPRESS_ALGORITHM's.
    pytest.param("COMPRESS_ALGORITHM_STREAMING", ["zstd", "br", "gzip", "deflate"], id="5"),
    pytest.param("COMPRESS_DEFLATE_LEVEL", -1, id="6"),
    pytest.param("COMPRESS_BR_MODE", 0, id="7"),
    pytest.param("COMPRESS_BR_LEVEL", 4, id="8"),
    pytest.param("COMPRESS_BR_WINDOW", 22, id="9"),
    pytest.param("COMPRESS_BR_BLOCK", 0, id="10"),
    pytest.param("COMPRESS_STREAMS", True, id="11"),
    pytest.param("COMPRESS_ZSTD_LEVEL", 3, id="12"),
    pytest.param("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", True, id="13"),
    pytest.param("COMPRESS_STREAMING_ENDPOINT_CONDITIONAL", ["static"], id="14"),
    pytest.param("COMPRESS_CACHE_KEY", None, id="cache-key"),
    pytest.param("COMPRESS_CACHE_BACKEND", None, id="cache-backend"),
    pytest.param("COMPRESS_REGISTER", True, id="register"),
    pytest.param("COMPRESS_THREAD_MIN_SIZE", DEFAULT_THREAD_MIN_SIZE, id="thread-min-size"),
]


@pytest.mark.parametrize(("key", "default"), UPSTREAM_DEFAULTS)
def test_init_app_writes_each_default_into_the_config(key: str, default: object) -> None:
    """Upstream #1-#14: after ``Compress(app)``, ``app.config`` holds every default."""
    app = Quart(__name__)
    Compress(app)
    assert app.config[key] == default


def test_init_app_writes_every_key_of_the_one_table() -> None:
    app = Quart(__name__)
    Compress(app)
    defaults = config_defaults()
    assert {p.values[0] for p in UPSTREAM_DEFAULTS} | set(EXTENSION_DEFAULTS) <= set(defaults)
    for key, value in defaults.items():
        assert app.config[key] == value, key


def test_config_defaults_keep_values_set_before_init() -> None:
    app = Quart(__name__)
    app.config.update(COMPRESS_LEVEL=1, COMPRESS_MIMETYPES=["text/html"])
    Compress(app)
    assert app.config["COMPRESS_LEVEL"] == 1
    assert app.config["COMPRESS_MIMETYPES"] == ["text/html"]
    assert app.config["COMPRESS_BR_LEVEL"] == 4


def test_default_lists_are_not_shared_between_apps() -> None:
    first, second = Quart(__name__), Quart(__name__)
    Compress(first)
    Compress(second)
    first.config["COMPRESS_MIMETYPES"].append("text/csv")
    assert "text/csv" not in second.config["COMPRESS_MIMETYPES"]
    assert "text/csv" not in config_defaults()["COMPRESS_MIMETYPES"]


@pytest.mark.parametrize("algorithm", ["gzip, br", ["deflate"]])
def test_algorithm_streaming_defaults_to_the_configured_algorithm(algorithm: object) -> None:
    app = Quart(__name__)
    app.config["COMPRESS_ALGORITHM"] = algorithm
    Compress(app)
    assert app.config["COMPRESS_ALGORITHM_STREAMING"] == algorithm
    if isinstance(algorithm, list):  # a copy: changing one list must not change the other
        assert app.config["COMPRESS_ALGORITHM_STREAMING"] is not algorithm


def _not_a_cache() -> object:
    return object()


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        pytest.param("COMPRESS_LEVEL", 42, ValueError, id="level-range"),
        pytest.param("COMPRESS_DEFLATE_LEVEL", "1", TypeError, id="deflate-level-type"),
        pytest.param("COMPRESS_BR_LEVEL", 12, ValueError, id="br-level-range"),
        pytest.param("COMPRESS_BR_MODE", 3, ValueError, id="br-mode"),
        pytest.param("COMPRESS_BR_WINDOW", 9, ValueError, id="br-window"),
        pytest.param("COMPRESS_BR_BLOCK", 10, ValueError, id="br-block"),
        pytest.param("COMPRESS_ZSTD_LEVEL", 23, ValueError, id="zstd-level"),
        pytest.param("COMPRESS_MIN_SIZE", -1, ValueError, id="min-size"),
        pytest.param("COMPRESS_THREAD_MIN_SIZE", 1.5, TypeError, id="thread-min-size"),
        pytest.param("COMPRESS_STREAMS", "yes", TypeError, id="streams"),
        pytest.param("COMPRESS_ALGORITHM", "gzip, lzma", ValueError, id="algorithm"),
        pytest.param(
            "COMPRESS_ALGORITHM_STREAMING", ["br", 3], TypeError, id="algorithm-streaming"
        ),
        pytest.param("COMPRESS_MIMETYPES", ["html"], ValueError, id="mimetypes"),
        pytest.param("COMPRESS_REGISTER", "no", TypeError, id="register"),
        pytest.param("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", 1, TypeError, id="evaluate"),
        pytest.param("COMPRESS_STREAMING_ENDPOINT_CONDITIONAL", 5, TypeError, id="endpoints"),
        pytest.param("COMPRESS_CACHE_KEY", "url", TypeError, id="cache-key"),
        pytest.param("COMPRESS_CACHE_BACKEND", DictCache(), TypeError, id="backend-not-factory"),
        pytest.param("COMPRESS_CACHE_BACKEND", _not_a_cache, TypeError, id="backend-no-get-set"),
    ],
)
def test_bad_value_fails_at_init_app_naming_the_key(
    key: str, value: object, error: type[Exception]
) -> None:
    app = Quart(__name__)
    app.config[key] = value
    with pytest.raises(error, match=key):
        Compress(app)
    assert "compress" not in app.extensions


def test_init_app_twice_is_an_error() -> None:
    app = Quart(__name__)
    Compress(app)
    with pytest.raises(RuntimeError, match="already"):
        Compress(app)


async def test_constructor_init() -> None:
    """Upstream #15."""
    app = Quart(__name__)
    compress = Compress(app)
    assert compress.app is app
    assert app.extensions["compress"] is compress


async def test_app_factory_pattern() -> None:
    """Upstream #16: ``Compress()`` at import time, ``init_app`` in the factory, for any
    number of apps, each with its own config."""
    compress = Compress()

    def create_app(level: int) -> Quart:
        app = Quart(__name__)
        app.config["COMPRESS_LEVEL"] = level
        compress.init_app(app)

        @app.route("/")
        async def index() -> str:
            return VARIED

        return app

    fast, small = create_app(1), create_app(9)
    assert compress.app is None
    assert fast.extensions["compress"] is small.extensions["compress"] is compress
    a, b = await fetch(fast, "/", "gzip"), await fetch(small, "/", "gzip")
    assert a.encoding == b.encoding == "gzip"
    assert a.decoded() == b.decoded() == VARIED.encode()
    assert len(b.body) < len(a.body)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_compressed_content(encoding: str) -> None:
    """Upstream #17."""
    app, _ = new_app()
    got = await fetch(app, "/large/", encoding)
    assert got.status == 200
    assert got.encoding == encoding
    assert len(got.body) < len(LARGE)
    assert got.decoded() == LARGE.encode()
    assert "accept-encoding" in got.vary()
    sent = await asgi_fetch(app, "/large/", encoding)
    assert sent.headers["content-encoding"] == encoding
    assert int(sent.headers["content-length"]) == len(sent.body)


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_options_is_ok_and_its_empty_body_is_not_compressed(encoding: str) -> None:
    """Upstream #18, #19, #22 (status 200). Upstream #43 expects Content-Encoding on the
    empty OPTIONS body; we never compress an empty body (a deliberate difference)."""
    app, _ = new_app()
    for path in ("/small/", "/large/"):
        got = await fetch(app, path, encoding, method="OPTIONS")
        assert got.status == 200
        assert got.encoding is None
        assert got.body == b""


async def test_min_size() -> None:
    """Upstream #20; the comparison is strict (a body of exactly MIN_SIZE is compressed), and
    a change after init applies to the next request."""
    app, _ = new_app()

    @app.route("/size/<int:size>")
    async def sized(size: int) -> str:
        return LARGE[:size]

    assert (await fetch(app, "/small/", "gzip")).body == SMALL.encode()
    assert (await fetch(app, "/large/", "gzip")).encoding == "gzip"
    assert (await fetch(app, "/size/500", "gzip")).encoding == "gzip"
    assert (await fetch(app, "/size/499", "gzip")).encoding is None
    app.config["COMPRESS_MIN_SIZE"] = 100
    got = await fetch(app, "/size/100", "gzip")
    assert got.encoding == "gzip"
    assert got.decoded() == LARGE[:100].encode()
    assert (await fetch(app, "/size/99", "gzip")).encoding is None
    app.config["COMPRESS_MIN_SIZE"] = 5000
    assert (await fetch(app, "/large/", "gzip")).encoding is None


async def test_mimetype_mismatch(static_dir: Path) -> None:
    """Upstream #21: a PNG (static or not) is not compressed, but still varies."""
    app, _ = new_app(static_dir)
    for path in ("/static/1.png", "/png"):
        got = await fetch(app, path, "gzip")
        assert got.status == 200
        assert got.headers["Content-Type"] == "image/png"
        assert got.encoding is None
        assert got.body == PNG
        assert "accept-encoding" in got.vary()


@pytest.mark.parametrize(
    ("encoding", "key", "first", "second", "config"),
    [
        pytest.param("gzip", "COMPRESS_LEVEL", 1, 6, {}, id="23-gzip-level"),
        pytest.param("br", "COMPRESS_BR_LEVEL", 4, 11, {}, id="24-br-level"),
        pytest.param("deflate", "COMPRESS_DEFLATE_LEVEL", -1, 1, {}, id="25-deflate-level"),
        pytest.param("zstd", "COMPRESS_ZSTD_LEVEL", 1, 11, {}, id="26-zstd-level"),
        pytest.param("br", "COMPRESS_BR_MODE", 0, 2, {}, id="br-mode"),
        pytest.param("br", "COMPRESS_BR_WINDOW", 10, 22, {}, id="br-window"),
        # The block size only shows in the output at the highest qualities.
        pytest.param("br", "COMPRESS_BR_BLOCK", 16, 24, {"COMPRESS_BR_LEVEL": 10}, id="br-block"),
    ],
)
async def test_codec_setting_changed_after_init_changes_the_output_size(
    encoding: str, key: str, first: int, second: int, config: dict[str, int]
) -> None:
    """Upstream #23-#26, and the other codec settings: each is read on every request."""
    app, _ = new_app(None, **config)
    sizes = []
    for value in (first, second, first):
        app.config[key] = value
        got = await fetch(app, "/varied", encoding)
        assert got.encoding == encoding
        assert got.decoded() == VARIED.encode()
        sizes.append(len(got.body))
    assert sizes[0] != sizes[1]
    assert sizes[0] == sizes[2]


async def test_invalid_live_change_is_logged_once_and_the_last_good_settings_stay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _ = new_app()
    app.config["COMPRESS_LEVEL"] = 1
    good = await fetch(app, "/varied", "gzip")
    app.config["COMPRESS_LEVEL"] = 42
    with caplog.at_level(logging.ERROR, logger="asgi_compress"):
        for _ in range(3):
            got = await fetch(app, "/varied", "gzip")
            assert got.status == 200
            assert got.decoded() == VARIED.encode()
            assert len(got.body) == len(good.body)  # still level 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "COMPRESS_LEVEL" in errors[0].getMessage()
    app.config["COMPRESS_LEVEL"] = 9
    assert len((await fetch(app, "/varied", "gzip")).body) < len(good.body)


async def test_live_key_deleted_from_the_config_falls_back_to_its_default() -> None:
    app, _ = new_app(COMPRESS_MIN_SIZE=5000)
    assert (await fetch(app, "/large/", "gzip")).encoding is None
    del app.config["COMPRESS_MIN_SIZE"]
    assert (await fetch(app, "/large/", "gzip")).encoding == "gzip"


async def test_streams_false_set_after_init_leaves_streams_uncompressed() -> None:
    """Upstream #45: every Accept-Encoding, including none, gets the stream as sent."""
    app, _ = new_app()
    app.config["COMPRESS_STREAMS"] = False
    for accept in ("", *ENCODINGS, "gzip, deflate, br, zstd"):
        got = await fetch(app, "/stream", accept)
        assert got.status == 200
        assert got.encoding is None
        assert got.body == b"".join(STREAM_CHUNKS)
    assert (await fetch(app, "/large/", "gzip")).encoding == "gzip"  # buffered: still on


@pytest.mark.parametrize(
    ("algorithm", "accept", "chosen"),
    [
        pytest.param("gzip", "br, gzip", "gzip", id="28-simple-string"),
        pytest.param("gzip, br, zstd", "br, zstd, gzip", "gzip", id="29-comma-string"),
        pytest.param(["br", "gzip"], "gzip", "gzip", id="31-one-supported"),
        pytest.param(["deflate"], "br, gzip", None, id="none-supported"),
        pytest.param(["zstd", "br", "gzip"], "br, gzip, zstd", "zstd", id="33-server-order"),
        pytest.param(["gzip", "br"], "br;q=0.9, gzip;q=0.5", "br", id="36-quality"),
        pytest.param(["zstd", "br"], "x-foo, *", "zstd", id="35-wildcard"),
    ],
)
async def test_algorithm_as_list_or_comma_string(
    algorithm: str | list[str], accept: str, chosen: str | None
) -> None:
    """Upstream #28-#36 through the app: the server's order breaks ties."""
    app, _ = new_app(COMPRESS_ALGORITHM=algorithm)
    got = await fetch(app, "/large/", accept)
    assert got.encoding == chosen
    assert got.decoded() == LARGE.encode()


async def test_algorithm_is_read_at_init_only() -> None:
    app, _ = new_app(COMPRESS_ALGORITHM=["gzip"])
    app.config["COMPRESS_ALGORITHM"] = ["br"]
    app.config["COMPRESS_ALGORITHM"].append("deflate")
    assert (await fetch(app, "/large/", "br, gzip")).encoding == "gzip"
    assert (await fetch(app, "/large/", "br")).encoding is None


async def test_algorithm_streaming_applies_to_streams_only() -> None:
    app, _ = new_app(COMPRESS_ALGORITHM_STREAMING=["br"])
    stream = await fetch(app, "/stream", "gzip")
    assert stream.encoding is None
    assert stream.body == b"".join(STREAM_CHUNKS)
    stream = await fetch(app, "/stream", "gzip, br")
    assert stream.encoding == "br"
    assert stream.decoded() == b"".join(STREAM_CHUNKS)
    assert (await fetch(app, "/large/", "gzip")).encoding == "gzip"


async def test_mimetypes_choose_what_is_compressed() -> None:
    app, _ = new_app(COMPRESS_MIMETYPES=["application/json"])
    assert (await fetch(app, "/large/", "gzip")).encoding is None
    got = await fetch(app, "/json", "gzip")
    assert got.encoding == "gzip"
    assert b'"item 99"' in got.decoded()
    app.config["COMPRESS_MIMETYPES"] = ["text/html"]  # read at init only
    assert (await fetch(app, "/large/", "gzip")).encoding is None


async def test_empty_mimetypes_compress_nothing(static_dir: Path) -> None:
    """Flask-Compress registers no hook then; we still send Vary (harmless, and correct
    should the config change)."""
    app, compress = new_app(static_dir, COMPRESS_MIMETYPES=[])

    @app.route("/marked")
    @compress.compressed()
    async def marked() -> str:
        return LARGE

    for path in ("/large/", "/json", "/stream", "/marked", "/static/small.css"):
        got = await fetch(app, path, "gzip, br, zstd, deflate")
        assert got.status == 200
        assert got.encoding is None, path
        assert "accept-encoding" in got.vary()


# -- per-view marks: compressed(), uncompressed(), skip() ---------------------------------------


def _per_view_app(register: bool) -> tuple[Quart, Compress]:
    app = Quart(__name__)
    app.config["COMPRESS_REGISTER"] = register
    compress = Compress(app)

    @app.route("/route1/")
    async def view_1() -> str:
        return LARGE

    @app.route("/route2/")
    @compress.compressed()
    async def view_2() -> str:
        return LARGE

    @compress.compressed()  # above the route decorator: the same function is registered
    @app.route("/sync/")
    def sync_view() -> str:
        return LARGE

    @app.route("/stream/")
    @compress.compressed()
    async def stream_view() -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in STREAM_CHUNKS:
                yield chunk

        return Response(chunks(), mimetype="text/plain")

    @app.route("/never/")
    @compress.uncompressed()
    async def never() -> str:
        return LARGE

    @app.route("/skipped/")
    @compress.compressed()
    async def skipped() -> str:
        compress.skip()
        return LARGE

    return app, compress


async def test_per_view_compression_with_register_off() -> None:
    """Upstream #44, plus sync views, the decorator above ``@app.route``, and streams."""
    app, _ = _per_view_app(register=False)
    plain = await fetch(app, "/route1/", "deflate")
    assert plain.status == 200
    assert plain.encoding is None
    assert "accept-encoding" in plain.vary()
    for path in ("/route2/", "/sync/"):
        got = await fetch(app, path, "deflate")
        assert got.status == 200
        assert got.encoding == "deflate"
        assert got.decoded() == LARGE.encode()
    stream = await fetch(app, "/stream/", "br")
    assert stream.encoding == "br"
    assert stream.decoded() == b"".join(STREAM_CHUNKS)
    for path in ("/never/", "/skipped/"):
        assert (await fetch(app, path, "deflate")).encoding is None


async def test_marks_with_register_on() -> None:
    """Marked views are compressed once (not twice, as Flask-Compress's second pass would
    try); uncompressed() and skip() opt out."""
    app, _ = _per_view_app(register=True)
    for path in ("/route1/", "/route2/", "/sync/"):
        got = await fetch(app, path, "gzip")
        assert got.encoding == "gzip"
        assert got.decoded() == LARGE.encode()
    for path in ("/never/", "/skipped/"):
        got = await fetch(app, path, "gzip")
        assert got.status == 200
        assert got.encoding is None
        assert got.body == LARGE.encode()
        assert "accept-encoding" in got.vary()


@pytest.mark.parametrize("where", ["hook-before-compress", "hook-after-compress", "view"])
async def test_skip_works_from_the_view_and_from_any_hook(where: str) -> None:
    app = Quart(__name__)
    app.config["COMPRESS_REGISTER"] = False
    compress = Compress()

    async def skip_hook(response: ResponseTypes) -> ResponseTypes:
        compress.skip()
        return response

    if where == "hook-before-compress":
        app.after_request(skip_hook)  # runs after Compress's own hook
    compress.init_app(app)
    if where == "hook-after-compress":
        app.after_request(skip_hook)  # runs before it

    @app.route("/")
    @compress.compressed()
    async def index() -> str:
        if where == "view":
            compress.skip()
        return LARGE

    got = await fetch(app, "/", "gzip")
    assert got.encoding is None
    assert got.body == LARGE.encode()


async def test_skip_outside_a_request_is_an_error() -> None:
    compress = Compress(Quart(__name__))
    with pytest.raises(RuntimeError):
        compress.skip()


async def test_skip_applies_to_one_request_only() -> None:
    app, compress = new_app()

    @app.route("/maybe")
    async def maybe() -> str:
        if request.args.get("raw"):
            compress.skip()
        return LARGE

    assert (await fetch(app, "/maybe?raw=1", "gzip")).encoding is None
    assert (await fetch(app, "/maybe", "gzip")).encoding == "gzip"


async def test_register_off_leaves_static_files_uncompressed(static_dir: Path) -> None:
    app, _ = new_app(static_dir, COMPRESS_REGISTER=False)
    got = await fetch(app, "/static/big.txt", "gzip")
    assert got.encoding is None
    assert got.body == (static_dir / "big.txt").read_bytes()


async def test_marked_view_returning_send_file(static_dir: Path) -> None:
    """A file sent by a marked view is compressed as Quart reads it; listing the endpoint in
    COMPRESS_STREAMING_ENDPOINT_CONDITIONAL gives it 304s (``send_file`` does not evaluate
    conditions unless asked to)."""
    app = Quart(__name__)
    app.config["COMPRESS_REGISTER"] = False
    app.config["COMPRESS_STREAMING_ENDPOINT_CONDITIONAL"] = "static, download"
    compress = Compress(app)
    content = (static_dir / "big.txt").read_bytes()

    @app.route("/download")
    @compress.compressed()
    async def download() -> Response:
        return await send_file(static_dir / "big.txt")

    @app.route("/plain")
    async def plain() -> Response:
        return await send_file(static_dir / "big.txt")

    assert (await fetch(app, "/plain", "gzip")).encoding is None
    first = await fetch(app, "/download", "gzip")
    assert first.encoding == "gzip"
    assert first.decoded() == content
    etag = first.headers["ETag"]
    assert etag.endswith(':gzip"')
    got = await fetch(app, "/download", "gzip", headers={"If-None-Match": etag})
    assert got.status == 304
    assert got.body == b""


# -- conditional requests ------------------------------------------------------------------------


async def test_strong_etag_gets_the_coding_and_conditional_get_answers_304() -> None:
    """Upstream #51 and #55: the ETag becomes ``"abc123:br"``; sending it back gives a 304
    without body, Content-Encoding, Content-Length or Content-Type (Quart would keep them)."""
    app, _ = new_app()
    first = await fetch(app, "/etag/strong", "br")
    assert first.encoding == "br"
    assert first.headers["ETag"] == '"abc123:br"'
    got = await fetch(app, "/etag/strong", "br", headers={"If-None-Match": '"abc123:br"'})
    assert got.status == 304
    assert got.body == b""
    assert got.headers["ETag"] == '"abc123:br"'
    sent = await asgi_fetch(app, "/etag/strong", "br", headers={"If-None-Match": '"abc123:br"'})
    assert sent.status == 304
    assert sent.body == b""
    assert sent.headers["etag"] == '"abc123:br"'
    assert "accept-encoding" in sent.headers["vary"].lower()
    for name in ("content-encoding", "content-length", "content-type"):
        assert name not in sent.headers
    # RFC 9110 section 15.4.5: Last-Modified helps caches update what they stored.
    assert "last-modified" in sent.headers
    assert [m.get("more_body", False) for m in sent.bodies] == [False]


async def test_weak_etag_is_kept_and_answers_304() -> None:
    """Upstream #52 and #56."""
    app, _ = new_app()
    first = await fetch(app, "/etag/weak", "gzip")
    assert first.encoding == "gzip"
    assert first.headers["ETag"] == 'W/"abc123"'
    got = await fetch(app, "/etag/weak", "gzip", headers={"If-None-Match": 'W/"abc123"'})
    assert got.status == 304
    assert got.body == b""
    assert got.headers["ETag"] == 'W/"abc123"'
    assert "Content-Encoding" not in got.headers


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"If-None-Match": '"abc123"'}, 200, id="unsuffixed-tag-is-another-repr"),
        pytest.param({"If-None-Match": '"abc123:gzip"'}, 200, id="other-coding"),
        pytest.param({"If-None-Match": 'W/"abc123:br"'}, 304, id="weak-comparison"),
        pytest.param({"If-None-Match": "*"}, 304, id="star"),
        pytest.param({"If-Modified-Since": "Wed, 21 Oct 2015 07:28:00 GMT"}, 304, id="ims"),
        pytest.param({"If-Modified-Since": "Wed, 21 Oct 2015 07:27:59 GMT"}, 200, id="ims-older"),
        pytest.param({"If-Match": '"abc123"'}, 412, id="if-match-fails"),
        pytest.param({"If-Match": '"abc123:br"'}, 200, id="if-match-matches"),
    ],
)
async def test_conditional_requests_on_a_buffered_response(
    headers: dict[str, str], status: int
) -> None:
    app, _ = new_app()
    got = await fetch(app, "/etag/strong", "br", headers=headers)
    assert got.status == status
    if status == 200:
        assert got.decoded() == LARGE.encode()
    else:
        assert got.body == b""
        assert "Content-Encoding" not in got.headers


async def test_conditional_requests_on_head() -> None:
    app, _ = new_app()
    head = await fetch(app, "/etag/strong", "br", method="HEAD")
    assert head.status == 200
    assert head.encoding == "br"
    assert head.body == b""
    got = await fetch(
        app, "/etag/strong", "br", method="HEAD", headers={"If-None-Match": '"abc123:br"'}
    )
    assert got.status == 304


async def test_evaluate_conditional_request_off_after_init() -> None:
    """Upstream #53: without evaluation, the suffixed tag is not matched (the view does not
    evaluate it) and the full response is sent."""
    app, _ = new_app()
    app.config["COMPRESS_EVALUATE_CONDITIONAL_REQUEST"] = False
    got = await fetch(app, "/etag/strong", "gzip", headers={"If-None-Match": '"abc123:gzip"'})
    assert got.status == 200
    assert got.decoded() == LARGE.encode()
    app.config["COMPRESS_EVALUATE_CONDITIONAL_REQUEST"] = True
    got = await fetch(app, "/etag/strong", "gzip", headers={"If-None-Match": '"abc123:gzip"'})
    assert got.status == 304


async def test_view_that_calls_make_conditional_sees_its_own_etag() -> None:
    """Upstream #53-#54's views call ``make_conditional`` themselves; Flask-Compress's
    issues #24/#65: their 304 never matched the suffixed tag. Here the view sees the tag it
    set, answers 304 itself, and the client gets back the tag it sent."""
    app, _ = new_app(COMPRESS_EVALUATE_CONDITIONAL_REQUEST=False)

    @app.route("/own")
    async def own() -> Response:
        response = Response(LARGE, mimetype="text/html")
        response.set_etag("abc123")
        return await response.make_conditional(request)

    first = await fetch(app, "/own", "gzip")
    assert first.headers["ETag"] == '"abc123:gzip"'
    got = await fetch(app, "/own", "gzip", headers={"If-None-Match": first.headers["ETag"]})
    assert got.status == 304
    assert got.body == b""
    assert got.headers["ETag"] == '"abc123:gzip"'
    assert "Content-Encoding" not in got.headers


async def test_conditionals_are_skipped_on_streams_of_unlisted_endpoints() -> None:
    """Upstream #47: a stream is never buffered to evaluate a condition."""
    app, _ = new_app(COMPRESS_MIN_SIZE=1)
    first = await fetch(app, "/stream", "br")
    assert first.encoding == "br"
    assert first.headers["ETag"] == '"stream-etag:br"'
    got = await fetch(app, "/stream", "br", headers={"If-None-Match": '"stream-etag:br"'})
    assert got.status == 200
    assert got.decoded() == b"".join(STREAM_CHUNKS)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"If-None-Match": '"stream-etag:br"'}, 304, id="if-none-match"),
        pytest.param({"If-Match": '"other"'}, 412, id="if-match-fails"),
        pytest.param({"If-Match": '"stream-etag:br"'}, 200, id="if-match-matches"),
    ],
)
async def test_conditionals_apply_to_streams_of_listed_endpoints(
    headers: dict[str, str], status: int
) -> None:
    app, _ = new_app(COMPRESS_STREAMING_ENDPOINT_CONDITIONAL=["stream", "static"])
    got = await fetch(app, "/stream", "br", headers=headers)
    assert got.status == status
    if status == 200:
        assert got.decoded() == b"".join(STREAM_CHUNKS)
    else:
        assert got.body == b""
        assert "Content-Encoding" not in got.headers


@pytest.mark.parametrize("name", ["small.css", "big.txt"])
@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_static_files_are_compressed_and_answer_304(
    static_dir: Path, name: str, encoding: str
) -> None:
    """Upstream #48 for each coding (gzip included: streams are flushed per chunk), with a
    file under Quart's 8 KiB read size (one body message) and one over (several)."""
    app, _ = new_app(static_dir)
    content = (static_dir / name).read_bytes()
    first = await fetch(app, f"/static/{name}", encoding)
    assert first.status == 200
    assert first.encoding == encoding
    assert first.decoded() == content
    etag = first.headers["ETag"]
    assert etag.endswith(f':{encoding}"')
    assert "Accept-Ranges" not in first.headers
    got = await fetch(app, f"/static/{name}", encoding, headers={"If-None-Match": etag})
    assert got.status == 304
    assert got.body == b""
    assert got.headers["ETag"] == etag
    assert "Content-Encoding" not in got.headers
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    assert (await fetch(app, f"/static/{name}", encoding, headers=since)).status == 304
    failed = await fetch(app, f"/static/{name}", encoding, headers={"If-Match": '"other"'})
    assert failed.status == 412
    assert failed.encoding is None


async def test_static_range_request_gets_the_identity_bytes(static_dir: Path) -> None:
    """Flask-Compress compresses a 206 (its §2.7 bug); we pass it through."""
    app, _ = new_app(static_dir)
    content = (static_dir / "big.txt").read_bytes()
    got = await fetch(app, "/static/big.txt", "gzip, br", headers={"Range": "bytes=100-20099"})
    assert got.status == 206
    assert got.encoding is None
    assert got.headers["Content-Range"] == f"bytes 100-20099/{len(content)}"
    assert got.body == content[100:20100]


async def test_static_file_if_match_with_suffixed_etag(static_dir: Path) -> None:
    app, _ = new_app(static_dir)
    first = await fetch(app, "/static/big.txt", "br")
    got = await fetch(app, "/static/big.txt", "br", headers={"If-Match": first.headers["ETag"]})
    assert got.status == 200
    assert got.decoded() == (static_dir / "big.txt").read_bytes()


# -- the cache -----------------------------------------------------------------------------------
# What the cache serves is tested in tests/cache/test_cache.py and tests/cache/test_cache_wiring.py.


class RecordingCache:
    """A Flask-Caching-style sync backend that records its calls."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.gets: list[str] = []
        self.sets: list[str] = []

    def get(self, key: str) -> bytes | None:
        self.gets.append(key)
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        self.sets.append(key)
        self.data[key] = value


class AsyncCache:
    """An aiocache-style backend: coroutine methods."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.sets = 0

    async def get(self, key: str) -> bytes | None:
        await anyio.lowlevel.checkpoint()
        return self.data.get(key)

    async def set(self, key: str, value: bytes) -> None:
        await anyio.lowlevel.checkpoint()
        self.sets += 1
        self.data[key] = value


class FailingCache:
    def get(self, key: str) -> bytes | None:
        raise ConnectionError("cache is down")

    def set(self, key: str, value: bytes) -> None:
        raise ConnectionError("cache is down")


def _url_key(request: Request) -> str:
    return request.url


def test_cache_backends_satisfy_the_protocol() -> None:
    for backend in (RecordingCache(), AsyncCache(), FailingCache(), DictCache()):
        assert isinstance(backend, CacheBackend)


async def test_cache_is_used_for_buffered_responses_only(static_dir: Path) -> None:
    """Streams, files, uncompressed and identity responses never reach the cache (nor the
    key function)."""
    app, compress = new_app(static_dir)
    calls: list[str] = []

    def key(request: Request) -> str:
        calls.append(request.path)
        return request.path

    compress.cache = cache = RecordingCache()
    compress.cache_key = key
    await fetch(app, "/stream", "br")
    await fetch(app, "/static/small.css", "br")
    await fetch(app, "/static/big.txt", "br")
    await fetch(app, "/png", "br")
    await fetch(app, "/large/", "identity")
    await fetch(app, "/large/", None)
    await fetch(app, "/large/", "br", method="HEAD")
    assert calls == []
    assert cache.gets == cache.sets == []
    await fetch(app, "/large/", "br")
    assert calls == ["/large/"]


async def test_cache_without_key_function_names_the_fix(caplog: pytest.LogCaptureFixture) -> None:
    """The request fails with a 500 and the error Quart logs says what to set.

    Seen as a user sees it, in the log: with ``PROPAGATE_EXCEPTIONS`` Quart 0.20 answers
    with its debug page outside testing, where later releases raise.
    """
    app, compress = new_app()
    compress.cache = DictCache()
    caplog.set_level(logging.ERROR, logger=app.logger.name)
    fetched = await fetch(app, "/large/", "br")
    assert fetched.status == 500
    errors = [record.exc_info[1] for record in caplog.records if record.exc_info]
    assert errors
    for error in errors:
        assert isinstance(error, RuntimeError)
        assert "compress.cache_key = lambda request: request.url" in str(error)


# -- streams, decoded message by message ---------------------------------------------------------


def _stream_app(mimetype: str, chunks: list[bytes]) -> tuple[Quart, list[asyncio.Event]]:
    """An app whose ``/`` yields ``chunks``, each only after the client decoded the previous
    one: a middleware that held data back would hang here (and fail the deadline)."""
    app = Quart(__name__)
    # Flask-Compress's default list has no text/event-stream: add it.
    app.config["COMPRESS_MIMETYPES"] = [*FLASK_COMPRESS_MIMETYPES, "text/event-stream"]
    Compress(app)
    arrived = [asyncio.Event() for _ in chunks]

    @app.route("/")
    async def stream() -> Response:
        async def generate() -> AsyncIterator[bytes]:
            for index, chunk in enumerate(chunks):
                if index:
                    await arrived[index - 1].wait()
                yield chunk

        return Response(generate(), mimetype=mimetype)

    return app, arrived


@pytest.mark.parametrize("mimetype", ["text/plain", "text/event-stream"])
@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_async_generator_stream_decodes_chunk_by_chunk(encoding: str, mimetype: str) -> None:
    chunks = [f"data: event {i} {'x' * (i * 40)}\n\n".encode() for i in range(8)]
    chunks[4] = text(DEFAULT_THREAD_MIN_SIZE + 10, seed=4)  # big enough to be offloaded
    app, arrived = _stream_app(mimetype, chunks)
    decoder = Decoder(encoding)
    decoded = bytearray()  # everything decodable so far, on arrival

    def on_send(message: Message) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            decoded.extend(decoder.feed(message["body"]))
            for index in range(len(chunks)):  # let the app send its next chunk
                if len(decoded) >= sum(map(len, chunks[: index + 1])):
                    arrived[index].set()

    scope = make_scope(accept_encoding=encoding)
    recorded = await run(cast("ASGIApp", app), scope, on_send=on_send)
    assert recorded.status == 200
    assert recorded.headers["content-encoding"] == encoding
    assert "content-length" not in recorded.headers
    # Each chunk was decodable before the app sent the next: a coalesced stream is flushed
    # when the app pauses (it waits here for the client), an event stream at every event.
    assert bytes(decoded) == b"".join(chunks)
    assert recorded.bodies[-1].get("more_body", False) is False
    assert decoder.eof


async def test_sync_generator_stream_is_compressed() -> None:
    app = Quart(__name__)
    Compress(app)

    @app.route("/")
    async def index() -> Response:
        def generate() -> Iterator[bytes]:
            yield from STREAM_CHUNKS

        return Response(generate(), mimetype="text/plain")

    got = await fetch(app, "/", "zstd")
    assert got.encoding == "zstd"
    assert got.decoded() == b"".join(STREAM_CHUNKS)


# -- hooks and the session -----------------------------------------------------------------------


async def test_compression_runs_after_every_hook_and_the_session() -> None:
    """Flask-Compress compresses inside the hook chain, so hooks registered before it see
    compressed bytes; here every hook sees the app's body and compression comes last."""
    app = Quart(__name__)
    app.secret_key = "test"
    seen: list[bytes] = []

    @app.after_request
    async def before_compress(response: ResponseTypes) -> ResponseTypes:
        assert isinstance(response, Response)
        seen.append(await response.get_data(as_text=False))
        response.headers["X-Before"] = "1"
        return response

    Compress(app)

    @app.after_request
    async def after_compress(response: ResponseTypes) -> ResponseTypes:
        response.headers["X-After"] = "1"
        response.headers.add("Vary", "Origin")
        return response

    @app.route("/")
    async def index() -> str:
        session["visits"] = 1

        @after_this_request
        async def this_request(response: ResponseTypes) -> ResponseTypes:
            response.headers["X-This-Request"] = "1"
            return response

        return LARGE

    got = await fetch(app, "/", "br")
    assert got.encoding == "br"
    assert got.decoded() == LARGE.encode()
    assert seen == [LARGE.encode()]
    for name in ("X-Before", "X-After", "X-This-Request", "Set-Cookie"):
        assert name in got.headers
    assert {"cookie", "origin", "accept-encoding"} <= set(got.vary())


async def test_hooks_see_no_policy_when_the_client_accepts_no_coding() -> None:
    app, _ = new_app()
    policies: list[object] = []

    @app.after_request
    async def look(response: ResponseTypes) -> ResponseTypes:
        policies.append(request.scope.get(SCOPE_KEY))
        return response

    await fetch(app, "/large/", None)
    await fetch(app, "/large/", "br")
    assert policies[0] is None
    assert isinstance(policies[1], ResponsePolicy)


async def test_error_responses_are_not_compressed() -> None:
    app, compress = new_app()

    @app.route("/boom")
    @compress.compressed()
    async def boom() -> str:
        raise ValueError("boom")

    for path, status in (("/boom", 500), ("/missing", 404)):
        got = await fetch(app, path, "br")
        assert got.status == status
        assert got.encoding is None
        assert "accept-encoding" in got.vary()


# -- deliberate differences from Flask-Compress --------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        pytest.param("gzip;q=0", None, id="q0-refuses"),
        pytest.param("*, gzip;q=0", "zstd", id="q0-beats-wildcard"),
        pytest.param("br;q=0.5, *", "zstd", id="wildcard-keeps-its-q"),
        pytest.param("gzip; q=0.5", "gzip", id="space-before-q"),
        pytest.param("identity;q=1, *;q=0", None, id="42-chrome-ranged"),
        pytest.param("identity;q=1, br;q=0.5, *;q=0", None, id="41-identity"),
        pytest.param("*;q=0", None, id="40-wildcard-q0"),
    ],
)
async def test_negotiation(accept: str, chosen: str | None) -> None:
    app, _ = new_app()
    got = await fetch(app, "/large/", accept)
    assert got.encoding == chosen
    assert got.decoded() == LARGE.encode()


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        pytest.param(204, {}, id="204"),
        pytest.param(205, {}, id="205"),
        pytest.param(206, {"Content-Range": "bytes 0-3875/9000"}, id="206"),
        pytest.param(200, {"Content-Range": "bytes 0-3875/9000"}, id="content-range"),
        pytest.param(200, {"Cache-Control": "no-transform"}, id="no-transform"),
        pytest.param(200, {"Content-Encoding": "identity"}, id="already-encoded"),
    ],
)
async def test_responses_that_stay_uncompressed(status: int, headers: dict[str, str]) -> None:
    app, _ = new_app()

    @app.route("/special")
    async def special() -> Response:
        return Response(LARGE if status != 204 else "", status=status, headers=headers)

    got = await fetch(app, "/special", "gzip")
    assert got.status == status
    assert got.encoding == headers.get("Content-Encoding")  # the app's own, or none
    assert "accept-encoding" in got.vary()


async def test_several_vary_lines_are_kept() -> None:
    app, _ = new_app()

    @app.route("/vary")
    async def vary() -> Response:
        response = Response(LARGE, mimetype="text/html")
        response.headers.add("Vary", "Cookie")
        response.headers.add("Vary", "Origin")
        return response

    got = await fetch(app, "/vary", "gzip")
    assert got.encoding == "gzip"
    assert set(got.vary()) == {"cookie", "origin", "accept-encoding"}


async def test_head_of_an_empty_body_is_not_compressed() -> None:
    app, _ = new_app()

    @app.route("/empty")
    async def empty() -> Response:
        return Response("", mimetype="text/html")

    got = await fetch(app, "/empty", "gzip", method="HEAD")
    assert got.status == 200
    assert got.encoding is None


# -- the example app under a real server ---------------------------------------------------------


@dataclass
class RawResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes  # as sent: not decoded by httpx


def _raw_get(client: httpx.Client, url: str, accept: str) -> RawResponse:
    """GET without httpx's own decoding: the body is read raw, as sent."""
    with client.stream("GET", url, headers={"Accept-Encoding": accept}) as response:
        raw = b"".join(response.iter_raw())
    return RawResponse(response.status_code, response.headers, raw)


@pytest.mark.interop
def test_example_app_under_uvicorn() -> None:
    pytest.importorskip("uvicorn")
    from examples import quart_app  # the expected bodies, computed by the example itself
    from tests.harness.servers import serve

    expected: dict[str, bytes] = {
        "/": quart_app.page().encode(),
        "/stream": "".join(
            quart_app.stream_line(i) for i in range(quart_app.STREAM_LINES)
        ).encode(),
        "/static/app.css": (EXAMPLES / "quart_static" / "app.css").read_bytes(),
        "/static/app.js": (EXAMPLES / "quart_static" / "app.js").read_bytes(),
    }
    with (
        serve("examples.quart_app:app", "uvicorn-h11", cwd=EXAMPLES.parent) as base,
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        identity_json = _raw_get(client, "/api/items", "identity")
        assert identity_json.headers.get("content-encoding") is None
        expected["/api/items"] = identity_json.content
        for encoding in ENCODINGS:
            for path, body in expected.items():
                for attempt in ("miss", "hit"):  # /api/items comes from the cache then
                    got = _raw_get(client, path, encoding)
                    assert got.status_code == 200, (path, encoding)
                    assert got.headers["content-encoding"] == encoding, (path, attempt)
                    assert "accept-encoding" in got.headers["vary"].lower()
                    assert decode(encoding, got.content) == body, (path, encoding, attempt)
            png = _raw_get(client, "/static/logo.png", encoding)
            assert png.headers.get("content-encoding") is None
            raw = _raw_get(client, "/raw", encoding)
            assert raw.headers.get("content-encoding") is None
            assert raw.content == expected["/"]
        # The stream arrives line by line, each piece decodable on its own.
        decoder = Decoder("gzip")
        pieces: list[bytes] = []
        with client.stream("GET", "/stream", headers={"Accept-Encoding": "gzip"}) as response:
            assert response.headers["content-encoding"] == "gzip"
            for raw_piece in response.iter_raw():
                if piece := decoder.feed(raw_piece):
                    assert piece.endswith(b"\n"), piece
                    pieces.append(piece)
        assert decoder.eof
        assert b"".join(pieces) == expected["/stream"]
        assert len(pieces) > 1
        etag = _raw_get(client, "/static/app.css", "br").headers["etag"]
        not_modified = client.get(
            "/static/app.css", headers={"Accept-Encoding": "br", "If-None-Match": etag}
        )
        assert not_modified.status_code == 304
        assert not_modified.headers["etag"] == etag


def test_compress_is_exported_from_the_package_root() -> None:
    import asgi_compress

    assert asgi_compress.Compress is Compress
    assert {"Compress", "DictCache", "CacheBackend"} <= set(asgi_compress.__all__)


async def test_async_cache_key_is_awaited() -> None:
    """Compress.cache_key takes a coroutine function too (it type-checks as one, and mypy
    runs on this file): its awaited result is the key."""
    app, compress = new_app()

    async def async_key(request: Request) -> str:
        await anyio.lowlevel.checkpoint()
        return "async:" + request.path

    key: Callable[[Request], Awaitable[str]] = async_key
    compress.cache = cache = RecordingCache()
    compress.cache_key = key
    first = await fetch(app, "/large/", "deflate")
    second = await fetch(app, "/large/", "deflate")
    assert decode("deflate", first.body) == LARGE.encode()
    assert second.body == first.body
    # One slot, named by the awaited key (the coding and the body's digest validate it):
    # stored once, then found.
    assert len(cache.sets) == 1 and cache.gets == [cache.sets[0]] * 2


async def test_event_stream_keeps_flask_compress_order() -> None:
    """Flask-Compress picks an event stream's coding by COMPRESS_ALGORITHM_STREAMING's order
    alone: a Safari-like client gets br, as it would there (the middleware's own default
    would send gzip, which holds less per open stream)."""
    events = [b"data: event %d\n\n" % i for i in range(3)]
    app, arrived = _stream_app("text/event-stream", events)
    for event in arrived:
        event.set()
    recorded = await run(cast("ASGIApp", app), make_scope(accept_encoding="gzip, deflate, br"))
    assert recorded.headers["content-encoding"] == "br"
    decoder = Decoder("br")
    assert b"".join(decoder.feed(m["body"]) for m in recorded.bodies) == b"".join(events)
    assert decoder.eof
