"""The interop matrix: real servers and real clients agree with what the middleware sends.

Every cell is a test. The servers (uvicorn on h11 and on httptools, hypercorn, granian) serve
``examples.starlette_app`` from a subprocess on 127.0.0.1, each started once per module; the
clients are httpx (raw bytes, decoded here with the harness's independent decoders), the system
``curl --compressed``, and a headless Chromium driven by Playwright. A cell that cannot run on
this machine (a server, curl feature, Chromium or Playwright missing) is skipped with a reason
that names what is missing.

Everything encoded is compared with the same resource fetched with ``Accept-Encoding:
identity`` from the same server.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from asgi_compress.cache import DEFAULT_CACHE_LEVELS
from examples.starlette_app import ALGORITHM_ENV, EVENT_COUNT, STATIC_DIR
from tests.apps import sse_app
from tests.harness import ENCODINGS, REPO, Decoder, decode
from tests.harness.servers import (
    CURL,
    SERVER_KINDS,
    ServerError,
    chromium,
    curl_compressed,
    serve,
    server_unavailable_reason,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Response

pytestmark = pytest.mark.interop

APP = "examples.starlette_app:app"
SSE_APP = "tests.apps.sse_app:app"  # events paced by the reader's acknowledgements

RESOURCES = [
    pytest.param("/", id="page"),
    pytest.param("/api/items", id="api"),
    pytest.param("/static/app.css", id="css"),
    pytest.param("/static/app.js", id="js"),
]
STATIC_FILES = ["app.css", "app.js"]

CURL_FEATURE = {"zstd": "zstd", "br": "brotli", "gzip": "libz", "deflate": "libz"}

# Chromium sends "gzip, deflate, br, zstd": a server limited to one coding makes it get that one.
BROWSER_CODINGS = ["zstd", "br", "gzip", "deflate"]
BROWSER_SERVER = "uvicorn-h11"
PAGE_RESOURCES = ["/", "/static/app.css", "/static/app.js", "/api/items", "/events"]


# -- fetching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """One response as httpx saw it: the head, and the raw (still encoded) body."""

    status: int
    headers: httpx.Headers
    raw: bytes

    def tokens(self, name: str) -> list[str]:
        """The comma-separated values of every ``name`` header line, lowercased."""
        return [
            token.strip().lower()
            for line in self.headers.get_list(name)
            for token in line.split(",")
            if token.strip()
        ]


class Servers:
    """The servers of this module, each started on first use and stopped at module end,
    and a cache of what was fetched from them (every response here is deterministic)."""

    def __init__(self, stack: contextlib.ExitStack, client: httpx.Client) -> None:
        self._stack = stack
        self.client = client
        self._urls: dict[tuple[str, str | None, str], str] = {}
        self._failed: dict[tuple[str, str | None, str], str] = {}
        self._fetched: dict[tuple[str, str, str], Fetched] = {}

    def url(self, kind: str, algorithm: str | None = None, *, app: str = APP) -> str:
        """The base URL of ``kind`` serving ``app``, restricted to ``algorithm`` if given."""
        key = (kind, algorithm, app)
        if key in self._urls:
            return self._urls[key]
        reason = server_unavailable_reason(kind)
        if reason is not None:
            pytest.skip(reason)
        if key in self._failed:
            pytest.fail(f"{kind} failed to start earlier in this module:\n{self._failed[key]}")
        env = {name: value for name, value in os.environ.items() if name != ALGORITHM_ENV}
        if algorithm is not None:
            env[ALGORITHM_ENV] = algorithm
        try:
            url = self._stack.enter_context(serve(app, kind, env=env, cwd=REPO))
        except ServerError as error:
            self._failed[key] = str(error)
            raise
        self._urls[key] = url
        return url

    def fetch(self, base: str, path: str, coding: str) -> Fetched:
        """GET ``path`` with ``Accept-Encoding: coding``; the raw (still encoded) body."""
        key = (base, path, coding)
        if key not in self._fetched:
            url = base + path
            with self.client.stream("GET", url, headers={"Accept-Encoding": coding}) as response:
                raw = b"".join(response.iter_raw())
            self._fetched[key] = Fetched(response.status_code, response.headers, raw)
        return self._fetched[key]


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    with contextlib.ExitStack() as stack, httpx.Client(timeout=20) as client:
        yield Servers(stack, client)


def assert_identity(fetched: Fetched) -> None:
    assert fetched.status == 200
    assert "content-encoding" not in fetched.headers
    assert "accept-encoding" in fetched.tokens("vary")


def assert_encoded(fetched: Fetched, coding: str, identity: Fetched) -> None:
    """Encoded with ``coding``, with the right headers, and decoding to the identity body."""
    assert fetched.status == 200
    assert fetched.headers.get("content-encoding") == coding
    assert "accept-encoding" in fetched.tokens("vary")
    assert fetched.headers.get("content-type") == identity.headers.get("content-type")
    if "content-length" in fetched.headers:
        assert int(fetched.headers["content-length"]) == len(fetched.raw)
    assert decode(coding, fetched.raw) == identity.raw
    assert len(fetched.raw) < len(identity.raw)


# -- httpx against every server ---------------------------------------------------------------


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_resource_round_trips_through_server(
    servers: Servers, kind: str, path: str, coding: str
) -> None:
    base = servers.url(kind)
    identity = servers.fetch(base, path, "identity")
    assert_identity(identity)
    assert_encoded(servers.fetch(base, path, coding), coding, identity)


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_sse_each_event_decodes_as_it_is_sent(servers: Servers, kind: str, coding: str) -> None:
    """The server sends event N+1 only once we have acknowledged event N (tests/apps/sse_app.py):
    so each event must decode, whole, from the bytes received before it was acknowledged.
    Reads are accumulated and parsed: a read may end anywhere, not on an event boundary."""
    base = servers.url(kind, app=SSE_APP)
    stream = uuid.uuid4().hex
    decoder = Decoder(coding)
    pending = b""
    received: list[bytes] = []
    headers = {"Accept-Encoding": coding}
    with servers.client.stream(
        "GET", f"{base}/events?stream={stream}", headers=headers
    ) as response:
        assert response.headers.get("content-type", "").startswith("text/event-stream")
        assert response.headers.get("content-encoding") == coding
        assert "accept-encoding" in response.headers.get("vary", "").lower()
        assert "content-length" not in response.headers
        for chunk in response.iter_raw():
            pending += decoder.feed(chunk)
            while b"\n\n" in pending:
                event, pending = pending.split(b"\n\n", 1)
                received.append(event + b"\n\n")
                assert received[-1] == sse_app.event_text(len(received))
                ack = servers.client.get(f"{base}/ack?stream={stream}&n={len(received)}")
                assert ack.status_code == 200
    assert decoder.eof, f"{coding} stream did not reach its end"
    assert pending == b""
    assert received == [sse_app.event_text(n) for n in range(1, sse_app.EVENT_COUNT + 1)]


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_png_passes_through_with_vary(servers: Servers, kind: str) -> None:
    fetched = servers.fetch(servers.url(kind), "/static/logo.png", "zstd, br, gzip, deflate")
    assert_identity(fetched)
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.raw == (STATIC_DIR / "logo.png").read_bytes()


def test_granian_offers_pathsend_through_the_middleware(servers: Servers) -> None:
    """What makes StaticFiles answer with ``http.response.pathsend`` under granian: the
    extension reaches the app through the middleware, so the next test covers that path."""
    base = servers.url("granian", app="tests.apps.extensions_app:app")
    extensions = json.loads(servers.fetch(base, "/", "gzip").raw)
    assert "http.response.pathsend" in extensions
    assert "http.response.zerocopysend" not in extensions


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("name", STATIC_FILES)
def test_granian_pathsend_files_are_compressed(servers: Servers, name: str, coding: str) -> None:
    """StaticFiles hands granian the file's path; the middleware reads and encodes the file."""
    base = servers.url("granian")
    on_disk = (STATIC_DIR / name).read_bytes()

    identity = servers.fetch(base, f"/static/{name}", "identity")
    assert_identity(identity)
    assert identity.raw == on_disk
    assert identity.headers["content-length"] == str(len(on_disk))

    fetched = servers.fetch(base, f"/static/{name}", coding)
    assert_encoded(fetched, coding, identity)
    etag, identity_etag = fetched.headers["etag"], identity.headers["etag"]
    # Weak: the default cache may promote these bytes to its best level (RFC 9110 8.8.1).
    weak = "W/" if coding in DEFAULT_CACHE_LEVELS else ""
    assert etag == weak + identity_etag[:-1] + f':{coding}"'


# -- curl --compressed against uvicorn --------------------------------------------------------


def curl_missing_feature(coding: str) -> str | None:
    """Why the system curl cannot decode ``coding``, or None if it can."""
    if not os.access(CURL, os.X_OK):
        return f"curl is not installed ({CURL})"
    version = subprocess.run([CURL, "-V"], capture_output=True, text=True, check=True).stdout
    features = next(
        (line.split()[1:] for line in version.splitlines() if line.startswith("Features:")), []
    )
    feature = CURL_FEATURE[coding]
    if feature not in features:
        return f"the system curl lacks the {feature!r} feature needed for {coding} (curl -V)"
    return None


@pytest.mark.parametrize("coding", ENCODINGS)
@pytest.mark.parametrize("path", [*RESOURCES, pytest.param("/events", id="events")])
def test_curl_compressed_decodes(servers: Servers, tmp_path: Path, path: str, coding: str) -> None:
    reason = curl_missing_feature(coding)
    if reason is not None:
        pytest.skip(reason)
    base = servers.url("uvicorn-h11")
    identity = servers.fetch(base, path, "identity")
    encoded = servers.fetch(base, path, coding)
    headers, body, printed = curl_compressed(
        base + path,
        tmp_path,
        *("-H", f"Accept-Encoding: {coding}"),
        *("--write-out", "%{size_download} %{content_type}"),
    )
    assert headers["content-encoding"] == coding
    assert body == identity.raw
    size, content_type = printed.split(" ", 1)
    assert int(size) == len(encoded.raw)  # curl counts the bytes on the wire, still encoded
    assert content_type == identity.headers["content-type"]
    if "content-length" in headers:
        assert int(headers["content-length"]) == int(size)


# -- a real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@contextlib.contextmanager
def open_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A fresh page (no shared cache) and the list its uncaught errors go to."""
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []

        def record_console_error(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(message.text)

        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", record_console_error)
        yield page, errors
    finally:
        context.close()


def load_example_page(page: Page, base: str) -> dict[str, Response]:
    """Open ``/`` and wait until the inline script has rendered the items and every event;
    return the responses by path."""
    responses: dict[str, Response] = {}

    def record(response: Response) -> None:
        responses.setdefault(response.url.removeprefix(base), response)

    page.on("response", record)
    page.goto(base + "/")
    page.wait_for_function(
        "document.body.dataset.items === 'loaded' && document.body.dataset.events === 'done'",
        timeout=15_000,
    )
    return responses


@pytest.mark.parametrize("coding", BROWSER_CODINGS)
def test_browser_renders_page_with_encoded_resources(
    servers: Servers, browser: Browser, coding: str
) -> None:
    base = servers.url(BROWSER_SERVER, algorithm=coding)
    with open_page(browser) as (page, errors):
        responses = load_example_page(page, base)
        for path in PAGE_RESOURCES:
            response = responses[path]
            assert coding in response.request.all_headers()["accept-encoding"]
            assert response.status == 200
            assert response.headers.get("content-encoding") == coding, path
            assert "accept-encoding" in response.headers.get("vary", "").lower(), path
        assert "content-encoding" not in responses["/static/logo.png"].headers

        count = servers.fetch(base, "/api/items", "identity").raw.count(b'"sku"')
        rendered: dict[str, Any] = page.evaluate(
            """() => ({
                css: getComputedStyle(document.documentElement).getPropertyValue("--app-css"),
                masthead: getComputedStyle(document.querySelector(".masthead")).backgroundColor,
                js: document.documentElement.dataset.appJs,
                items: document.querySelectorAll("#items li").length,
                events: document.querySelectorAll("#events li").length,
                logo: document.getElementById("logo").naturalWidth,
            })"""
        )
        assert rendered == {
            "css": "loaded",
            "masthead": "rgb(47, 111, 94)",
            "js": "ready",
            "items": count,
            "events": EVENT_COUNT,
            "logo": 32,
        }
        assert errors == []


@pytest.mark.parametrize("coding", BROWSER_CODINGS)
def test_browser_fetch_decodes_byte_for_byte(
    servers: Servers, browser: Browser, coding: str
) -> None:
    base = servers.url(BROWSER_SERVER, algorithm=coding)
    with open_page(browser) as (page, errors):
        page.goto(base + "/")  # any page of the origin; this one names its icon (no 404)
        fetched: dict[str, dict[str, str | None]] = page.evaluate(
            """async (paths) => {
                const out = {};
                for (const path of paths) {
                    const response = await fetch(path, {cache: "no-store"});
                    const bytes = new Uint8Array(await response.arrayBuffer());
                    let binary = "";
                    for (const byte of bytes) binary += String.fromCharCode(byte);
                    out[path] = {
                        encoding: response.headers.get("content-encoding"),
                        body: btoa(binary),
                    };
                }
                return out;
            }""",
            PAGE_RESOURCES,
        )
        for path in PAGE_RESOURCES:
            assert fetched[path]["encoding"] == coding, path
            body = base64.b64decode(fetched[path]["body"] or "")
            assert body == servers.fetch(base, path, "identity").raw, path
        assert errors == []


@pytest.mark.parametrize("coding", BROWSER_CODINGS)
def test_browser_eventsource_receives_each_event_as_sent(
    servers: Servers, browser: Browser, coding: str
) -> None:
    """The page acknowledges each event before the server sends the next (tests/apps/sse_app.py):
    every event arriving intact and in order proves each was decodable on arrival."""
    base = servers.url(BROWSER_SERVER, algorithm=coding, app=SSE_APP)
    with open_page(browser) as (page, errors):
        encodings: dict[str, str | None] = {}

        def record(response: Response) -> None:
            path = response.url.removeprefix(base).split("?")[0]
            encodings.setdefault(path, response.headers.get("content-encoding"))

        page.on("response", record)
        page.goto(base + "/")
        page.wait_for_function("document.body.dataset.events === 'done'", timeout=15_000)
        received = page.evaluate("window.received")
        assert received == [sse_app.event_data(n) for n in range(1, sse_app.EVENT_COUNT + 1)]
        assert encodings["/events"] == coding
        assert errors == []
