"""The request side of the middleware: exclusions, opting out, the scope it hands the app,
and the errors a user sees when it is built wrong (issue 9; issue 8 items 5, 7, 8)."""

from __future__ import annotations

import importlib
import logging
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from asgi_compress import CompressMiddleware, ResponsePolicy, Settings, skip_compression
from asgi_compress._types import ASGIApp, Receive, Scope, Send
from tests.harness import Recorded, app_sending, body, make_scope, run, start, text

BIG = text(4000)


def page_app() -> ASGIApp:
    return app_sending([start(content_type="text/html"), body(BIG)])


# --- exclude_paths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "root_path", "excluded"),
    [
        pytest.param("/metrics", "", True, id="prefix-itself"),
        pytest.param("/metrics/", "", True, id="prefix-slash"),
        pytest.param("/metrics/cpu", "", True, id="under-prefix"),
        pytest.param("/metricsx", "", False, id="not-a-segment"),
        pytest.param("/api/metrics", "", False, id="not-at-start"),
        pytest.param("/downloads/a.zip", "", True, id="regex"),
        pytest.param("/downloads/a.zip.html", "", False, id="regex-anchored"),
        pytest.param("/metrics", "/app", False, id="root-path-counts"),
        pytest.param("/", "/admin", True, id="root-path-plus-path"),
        pytest.param("/admin/users", "/admin", True, id="path-already-has-root-path"),
    ],
)
async def test_exclude_paths_match_the_full_path(path: str, root_path: str, excluded: bool) -> None:
    app = CompressMiddleware(
        page_app(), exclude_paths=["/metrics", re.compile(r"\.zip$"), "/admin/"]
    )
    scope = make_scope(path=path, accept_encoding="gzip")
    scope["root_path"] = root_path
    recorded = await run(app, scope)
    if excluded:  # untouched: the very messages the app sent, no Vary (never compressed)
        assert recorded.start["headers"] == start(content_type="text/html")["headers"]
        assert recorded.body == BIG
    else:
        assert recorded.headers["content-encoding"] == "gzip"
        assert recorded.decoded() == BIG


async def test_excluded_request_reaches_the_app_with_its_own_scope() -> None:
    seen = Recorded()
    inner = app_sending([start(), body(BIG)], record_scope=seen)
    scope = make_scope(path="/metrics", accept_encoding="br")
    await run(CompressMiddleware(inner, exclude_paths="/metrics"), scope)
    assert seen.app_scope is scope
    assert "asgi_compress" not in scope


# --- skip_compression -----------------------------------------------------------------------


def skipping_middleware(app: ASGIApp, path: str) -> ASGIApp:
    """A middleware that runs before CompressMiddleware and opts one path out."""

    async def outer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == path:
            skip_compression(scope)
        await app(scope, receive, send)

    return outer


@pytest.mark.parametrize("path", ["/account", "/other"])
async def test_skip_compression_from_an_outer_middleware(path: str) -> None:
    app = skipping_middleware(CompressMiddleware(page_app()), "/account")
    recorded = await run(app, make_scope(path=path, accept_encoding="gzip, br"))
    assert recorded.headers["vary"] == "Accept-Encoding"  # other requests may be encoded
    if path == "/account":
        assert "content-encoding" not in recorded.headers
        assert recorded.body == BIG
    else:
        assert recorded.headers["content-encoding"] == "br"
        assert recorded.decoded() == BIG


def test_skip_compression_after_the_response_started_warns_once_per_route(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def late_call(path: str) -> None:
        policy = ResponsePolicy(Settings())
        policy.started = True  # set by the middleware at http.response.start
        scope = make_scope(path=path)
        scope["asgi_compress"] = policy
        skip_compression(scope)

    late, also_late = f"/late-{uuid.uuid4().hex}", f"/also-late-{uuid.uuid4().hex}"
    with caplog.at_level(logging.WARNING, logger="asgi_compress"):
        for path in (late, late, late, also_late):
            late_call(path)
    warnings = [r.getMessage() for r in caplog.records if r.name == "asgi_compress"]
    assert len(warnings) == 2
    assert late in warnings[0] and also_late in warnings[1]
    assert all("started" in w for w in warnings)


def test_skip_compression_before_the_response_starts_does_not_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = ResponsePolicy(Settings())
    scope = make_scope()
    scope["asgi_compress"] = policy
    with caplog.at_level(logging.WARNING, logger="asgi_compress"):
        skip_compression(scope)
    assert policy.enabled is False
    assert not caplog.records


# --- the scope the app gets -----------------------------------------------------------------


def header_generator() -> Iterator[tuple[bytes, bytes]]:
    yield (b"accept-encoding", b"gzip")
    yield (b"if-none-match", b'"abc:gzip"')
    yield (b"x-request-id", b"42")


@pytest.mark.parametrize("accept", [True, False])
async def test_headers_given_as_a_generator_reach_the_app_as_a_list(accept: bool) -> None:
    seen = Recorded()
    inner = app_sending([start(), body(BIG)], record_scope=seen)
    scope = make_scope()
    scope["headers"] = header_generator() if accept else (h for h in [(b"x-request-id", b"42")])
    recorded = await run(CompressMiddleware(inner), scope)
    assert seen.app_scope is not None
    headers = seen.app_scope["headers"]
    assert isinstance(headers, list)
    assert (b"x-request-id", b"42") in headers
    if accept:
        assert (b"accept-encoding", b"gzip") in headers
        assert (b"if-none-match", b'"abc"') in headers  # read once, and still stripped
        assert recorded.headers["content-encoding"] == "gzip"
        assert recorded.decoded() == BIG


# --- errors a user sees -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "kind", "words"),
    [
        pytest.param({"minimum_size": 10}, TypeError, ["'minimum_size'", "'min_size'"]),
        pytest.param({"compresslevel": 9}, TypeError, ["'compresslevel'", "'level'"]),
        pytest.param({"exclude_content_types": ["x/y"]}, TypeError, ["'exclude_mimetypes'"]),
        pytest.param({"excluded_handlers": ["/x"]}, TypeError, ["'exclude_paths'"]),
        pytest.param({"br_levl": 5}, TypeError, ["'br_levl'", "'br_level'"]),
        pytest.param({"algorithm": []}, ValueError, ["algorithm", "mimetypes=[]"]),
        pytest.param({"algorithm_streaming": ""}, ValueError, ["streams=False"]),
        pytest.param({"level": 42}, ValueError, ["level", "-1..9"]),
        pytest.param({"mimetypes": ["text/*html"]}, ValueError, ["mimetypes", "text/*html"]),
        pytest.param({"exclude_paths": ["metrics"]}, ValueError, ["exclude_paths", "'/'"]),
        pytest.param({"exclude_paths": [b"/x"]}, TypeError, ["exclude_paths"]),
        pytest.param({"on_response": "log"}, TypeError, ["on_response"]),
        pytest.param({"success_only": 1}, TypeError, ["success_only"]),
    ],
)
def test_invalid_option_is_logged_at_error_then_raised(
    caplog: pytest.LogCaptureFixture,
    options: dict[str, Any],
    kind: type[Exception],
    words: list[str],
) -> None:
    with caplog.at_level(logging.ERROR, logger="asgi_compress"), pytest.raises(kind) as excinfo:
        CompressMiddleware(page_app(), **options)
    logged = [r for r in caplog.records if r.name == "asgi_compress"]
    assert [r.levelno for r in logged] == [logging.ERROR]
    for word in words:
        assert word in str(excinfo.value)
        assert word in logged[0].getMessage()


def test_settings_built_directly_are_validated_and_complete() -> None:
    settings = Settings(algorithm="gzip, br", mimetypes="text/*", min_size=0)  # type: ignore[arg-type]
    assert settings.algorithm == settings.algorithm_streaming == ("gzip", "br")
    assert set(settings.encoders) == {"gzip", "br"}
    assert settings.is_compressible_type("text/csv")
    assert settings == Settings.from_options(algorithm="gzip, br", mimetypes="text/*", min_size=0)
    with pytest.raises(ValueError, match="zstd_level"):
        Settings(zstd_level=99)


async def test_settings_built_directly_drive_a_request() -> None:
    settings = Settings(algorithm=("br",))
    middleware = CompressMiddleware(page_app())
    middleware.settings = settings
    recorded = await run(middleware, make_scope(accept_encoding="gzip, br"))
    assert recorded.headers["content-encoding"] == "br"
    assert recorded.decoded() == BIG


# --- importing without Quart ---------------------------------------------------------------

WITHOUT_QUART = "import sys; sys.modules['quart'] = None  # as if Quart were not installed\n"


def run_without_quart(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_QUART + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_star_import_works_without_quart() -> None:
    done = run_without_quart(
        """
        from asgi_compress import *
        assert "Compress" not in dir(), "Compress should not be exported"
        print(CompressMiddleware.__name__, len(DEFAULT_MIMETYPES) > 26)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["CompressMiddleware", "True"]


@pytest.mark.parametrize(
    "statement", ["from asgi_compress import Compress", "from asgi_compress.quart import Compress"]
)
def test_compress_without_quart_names_the_extra(statement: str) -> None:
    done = run_without_quart(statement)
    assert done.returncode == 1
    assert "ImportError" in done.stderr
    assert "pip install 'asgi-compress[quart]'" in done.stderr


def test_star_import_with_quart_exports_compress() -> None:
    namespace: dict[str, Any] = {}
    exec("from asgi_compress import *", namespace)
    assert namespace["Compress"] is importlib.import_module("asgi_compress.quart").Compress


# --- the Quart extension's config keys ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "meant"),
    [
        ("COMPRESS_LEVLE", "COMPRESS_LEVEL"),
        ("COMPRESS_MIMETYPE", "COMPRESS_MIMETYPES"),
        ("COMPRESS_MINIMUM_SIZE", "COMPRESS_MIN_SIZE"),
        ("COMPRESS_BR_QUALITY", "COMPRESS_BR_LEVEL"),
    ],
)
def test_unknown_compress_key_warns_naming_the_closest(
    caplog: pytest.LogCaptureFixture, key: str, meant: str
) -> None:
    from quart import Quart

    from asgi_compress import Compress

    app = Quart(__name__)
    app.config[key] = 1
    with caplog.at_level(logging.WARNING, logger="asgi_compress"):
        Compress(app)
    messages = [r.getMessage() for r in caplog.records if r.name == "asgi_compress"]
    assert len(messages) == 1
    assert repr(key) in messages[0] and repr(meant) in messages[0]


def test_known_compress_keys_do_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    from quart import Quart

    from asgi_compress import Compress
    from asgi_compress.quart._config import config_defaults

    app = Quart(__name__)
    app.config.update(config_defaults())
    with caplog.at_level(logging.WARNING, logger="asgi_compress"):
        Compress(app)
    assert not [r for r in caplog.records if r.name == "asgi_compress"]


def test_building_the_starlette_stack_raises_before_deploying() -> None:
    # The docs' advice (quickstart.md): build the stack in a test, not at the first request.
    from tests.apps.real_traffic_app import broken

    with pytest.raises(TypeError, match="did you mean 'min_size'"):
        broken.build_middleware_stack()
