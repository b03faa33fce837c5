"""Frameworks: Django, Litestar, Falcon and BlackSheep apps behind CompressMiddleware.

Each app (tests/apps/frameworks/) wraps the middleware the way that framework's users would, and is
served by a real uvicorn from a subprocess, one per framework, started on first use and stopped
at module end. httpx sends each Accept-Encoding and keeps the body as it came off the wire;
the harness's independent decoders decode it, and it is compared with the same resource fetched
with ``Accept-Encoding: identity`` and with what the app was given to send. A framework that is
not installed is skipped with the package to install (``pip install -e '.[frameworks]'``).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.apps.frameworks import ITEMS, PAGE, STREAM_BODY
from tests.harness import ENCODINGS, decode
from tests.harness.servers import fetch_raw, serving

pytestmark = pytest.mark.interop

SERVER = "uvicorn-h11"
CODINGS = [*ENCODINGS, "identity"]


def _parse_json(body: bytes) -> Any:
    return json.loads(body)


# path -> what its body must parse to; each framework serialises JSON in its own spacing.
RESOURCES = [
    pytest.param("/page", bytes, PAGE, id="html"),
    pytest.param("/api/items", _parse_json, ITEMS, id="json"),
]


def _served(module: str, app: str) -> Any:
    """A module-scoped fixture: the base URL of uvicorn serving ``app``, which needs ``module``."""

    @pytest.fixture(scope="module")
    def base_url() -> Iterator[str]:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[frameworks]')")
        with serving(app, SERVER) as url:
            yield url

    return base_url


django_url = _served("django", "tests.apps.frameworks.django_app:app")
litestar_url = _served("litestar", "tests.apps.frameworks.litestar_app:app")
falcon_url = _served("falcon", "tests.apps.frameworks.falcon_app:app")
blacksheep_url = _served("blacksheep", "tests.apps.frameworks.blacksheep_app:app")


def fetch_decoded(client: httpx.Client, url: str, coding: str) -> tuple[httpx.Response, bytes]:
    """Fetch ``url`` accepting only ``coding``; check the head says so; return the decoded body.

    Whatever the coding, the body must be the one the same server sends for ``identity``.
    """
    plain_response, plain = fetch_raw(client, url, "identity")
    assert plain_response.status_code == 200
    assert "content-encoding" not in plain_response.headers
    response, raw = fetch_raw(client, url, coding)
    assert response.status_code == 200
    assert "accept-encoding" in response.headers["vary"].lower()
    if coding == "identity":
        assert "content-encoding" not in response.headers
        assert raw == plain
        return response, raw
    assert response.headers["content-encoding"] == coding
    assert len(raw) < len(plain) // 3
    assert decode(coding, raw) == plain
    return response, decode(coding, raw)


def check_resource(
    client: httpx.Client, url: str, coding: str, parse: Callable[[bytes], Any], expected: Any
) -> None:
    response, body = fetch_decoded(client, url, coding)
    assert parse(body) == expected
    if coding != "identity":
        assert response.headers["content-length"] == str(response.num_bytes_downloaded)


def check_stream(client: httpx.Client, url: str, coding: str) -> None:
    response, body = fetch_decoded(client, url, coding)
    assert body == STREAM_BODY
    if coding != "identity":
        # A stream: more than the middleware holds back, so no length could be declared.
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"


# Each wrapped as its users would: Django's ASGI app, Litestar's DefineMiddleware, Falcon's
# ASGI app and BlackSheep's Application, each around or inside CompressMiddleware.
FRAMEWORKS = [
    pytest.param("django_url", id="django"),
    pytest.param("litestar_url", id="litestar"),
    pytest.param("falcon_url", id="falcon"),
    pytest.param("blacksheep_url", id="blacksheep"),
]


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize(("path", "parse", "expected"), RESOURCES)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_framework_app_is_compressed(
    request: pytest.FixtureRequest,
    framework: str,
    client: httpx.Client,
    path: str,
    parse: Callable[[bytes], Any],
    expected: Any,
    coding: str,
) -> None:
    base_url = request.getfixturevalue(framework)
    check_resource(client, base_url + path, coding, parse, expected)


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_framework_stream_is_compressed_as_a_stream(
    request: pytest.FixtureRequest, framework: str, client: httpx.Client, coding: str
) -> None:
    check_stream(client, request.getfixturevalue(framework) + "/stream", coding)
