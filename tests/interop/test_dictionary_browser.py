"""Compression Dictionary Transport end to end: headless Chromium, curl and httpx against
CompressMiddleware with dictionary options, served by uvicorn (``tests.apps.dictionary_app``).

RFC 9842 flow as Chromium runs it: a cacheable response with ``Use-As-Dictionary`` is stored
as a dictionary *asynchronously*; later requests whose URL matches carry
``Available-Dictionary`` and ``dcb, dcz`` in Accept-Encoding. No sleep stands in for "stored":
the page re-fetches a probe URL that matches the pattern until the server has recorded a
request carrying ``Available-Dictionary``, under a deadline. Chromium sends those headers
only to a secure context, which ``http://localhost`` is.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.apps.dictionary_app import API_DICTIONARY, API_DICTIONARY_PATH, bundle, item
from tests.harness import decode
from tests.harness.dcz import decode_dcz
from tests.harness.servers import (
    chromium,
    curl_compressed,
    fetch_raw,
    serving,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.interop

STORED_DEADLINE = 30.0  # seconds for Chromium to store a dictionary; it takes ~1-2 s here


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving("tests.apps.dictionary_app:app") as url:
        # Chromium treats http://localhost (not 127.0.0.1 by name) as the secure context
        # the RFC's headers need (RFC 9842 section 8).
        yield url.replace("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@contextlib.contextmanager
def fresh_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page in its own context (its own HTTP cache and dictionaries), and its errors."""
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, errors
    finally:
        context.close()


def seen(base_url: str, path: str) -> list[dict[str, Any]]:
    """The server's record of the requests for ``path``, oldest first."""
    records: list[dict[str, Any]] = httpx.get(base_url + "/_seen", timeout=10).json()
    return [r for r in records if r["path"] == path]


def sha256_b64(data: bytes) -> str:
    return f":{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def wait_until_dictionary_offered(page: Page, base_url: str, probe: str) -> dict[str, Any]:
    """Re-fetch ``probe`` from the page until the server records it with
    Available-Dictionary; return that record. Fails at the deadline, never hangs."""
    deadline = time.monotonic() + STORED_DEADLINE
    while True:
        page.evaluate("url => fetch(url, {cache: 'no-store'}).then(r => r.text())", probe)
        offered = [r for r in seen(base_url, probe) if "available-dictionary" in r["request"]]
        if offered:
            return offered[-1]
        if time.monotonic() > deadline:
            records = seen(base_url, probe)
            pytest.fail(f"Chromium never offered a dictionary for {probe}: {records[-3:]}")
        page.wait_for_timeout(100)  # a poll interval, not a synchronisation


def test_chromium_decodes_new_bundle_against_the_old_one(browser: Browser, base_url: str) -> None:
    with fresh_page(browser) as (page, errors):
        page.goto(base_url + "/page1.html")
        page.wait_for_function("() => (window.loaded || []).includes('v1')")
        v1 = seen(base_url, "/static/app.v1.js")[-1]
        assert "available-dictionary" not in v1["request"]

        offered = wait_until_dictionary_offered(page, base_url, "/static/app.probe.js")
        assert offered["request"]["available-dictionary"] == sha256_b64(bundle(1))
        accepted = [t.strip() for t in offered["request"]["accept-encoding"].split(",")]
        assert "dcz" in accepted

        with page.expect_response(lambda r: r.url.endswith("/static/app.v2.js")) as info:
            page.goto(base_url + "/page2.html")
        page.wait_for_function("() => (window.loaded || []).includes('v2')")  # the script ran
        assert info.value.body() == bundle(2)  # the text Chromium decoded, byte for byte
        v2 = seen(base_url, "/static/app.v2.js")[-1]
        assert v2["request"]["available-dictionary"] == sha256_b64(bundle(1))
        assert v2["content-encoding"] == "dcz"
        assert errors == []


def test_chromium_fetches_json_with_the_trained_dictionary(browser: Browser, base_url: str) -> None:
    with fresh_page(browser) as (page, errors):
        # The page's Link header makes Chromium fetch the dictionary when idle (RFC 9842 s. 3).
        page.goto(base_url + "/api.html")
        offered = wait_until_dictionary_offered(page, base_url, "/api/probe")
        assert offered["request"]["available-dictionary"] == sha256_b64(API_DICTIONARY)
        assert offered["request"]["dictionary-id"] == '"api-1"'
        assert seen(base_url, API_DICTIONARY_PATH), "the dictionary was fetched from its path"

        text = page.evaluate("() => fetch('/api/items/7').then(r => r.text())")
        assert text.encode() == item(7)
        assert seen(base_url, "/api/items/7")[-1]["content-encoding"] == "dcz"
        assert errors == []


def test_chromium_decodes_padded_dcz(browser: Browser, base_url: str) -> None:
    """Issue 16: with breach_padding, a skippable frame follows the dcz header; Chromium
    reads past it with the dictionary and gets the exact text, whatever the length."""
    with fresh_page(browser) as (page, errors):
        page.goto(base_url + "/api.html")
        wait_until_dictionary_offered(page, base_url, "/api/probe")
        for _ in range(8):
            text = page.evaluate("() => fetch('/api/padded/7').then(r => r.text())")
            assert text.encode() == item(7)
        answers = seen(base_url, "/api/padded/7")[-8:]
        assert [a["content-encoding"] for a in answers] == ["dcz"] * 8
        # 8 draws from 65 padding lengths: fewer than 4 distinct has a chance near 1e-6.
        assert len({a["length"] for a in answers}) >= 4
        assert errors == []


def test_httpx_without_dcz_gets_ordinary_codings(base_url: str) -> None:
    """A client that does not list dcz gets br/zstd, even if it sends a dictionary hash."""
    headers = {
        "accept-encoding": "gzip, deflate, br, zstd",
        "available-dictionary": sha256_b64(bundle(1)),
    }
    with httpx.Client(timeout=10) as client:
        assert client.get(base_url + "/static/app.v1.js").content == bundle(1)  # now stored
        for path, body in [("/static/app.v2.js", bundle(2)), ("/api/items/9", item(9))]:
            response, raw = fetch_raw(client, base_url + path, headers=headers)
            head = response.headers
            assert head["content-encoding"] in ("br", "zstd")
            assert decode(head["content-encoding"], raw) == body


def test_httpx_announcing_dcz_gets_a_dcz_body_it_can_decode(base_url: str) -> None:
    with httpx.Client(timeout=10) as client:
        assert client.get(base_url + "/static/app.v1.js").content == bundle(1)
        headers = {"accept-encoding": "dcz, br", "available-dictionary": sha256_b64(bundle(1))}
        response, raw = fetch_raw(client, base_url + "/static/app.v2.js", headers=headers)
        head = response.headers
        assert head["content-encoding"] == "dcz"
        vary = {v.strip().lower() for v in head["vary"].split(",")}
        assert {"accept-encoding", "available-dictionary"} <= vary
        assert decode_dcz(raw, bundle(1)) == bundle(2)
        _, br = fetch_raw(client, base_url + "/static/app.v2.js", "br")
        assert len(raw) * 4 < len(br)


def test_curl_gets_ordinary_codings(base_url: str, tmp_path: Path) -> None:
    held = f"Available-Dictionary: {sha256_b64(bundle(1))}"
    headers, body, _ = curl_compressed(base_url + "/static/app.v2.js", tmp_path, "-H", held)
    assert headers["content-encoding"] in ("br", "zstd", "gzip", "deflate")
    assert body == bundle(2)
