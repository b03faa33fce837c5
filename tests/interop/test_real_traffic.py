"""Real traffic: a FastAPI app under a real uvicorn, fetched by httpx, raw bytes decoded here.

Issue 9: with the defaults, what web apps send is compressed (every type GZipMiddleware
compressed that a Flask-Compress list did not), what is compressed already is not, an
excluded path passes untouched, and an invalid option is in the server's output at startup.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.apps.real_traffic_app import BODY
from tests.harness import ENCODINGS, REPO, decode
from tests.harness.mediatypes import ALREADY_COMPRESSED, NEWLY_COMPRESSED
from tests.harness.servers import fetch_raw, server_unavailable_reason, serving

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving("tests.apps.real_traffic_app:app") as url:
        yield url


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("media_type", NEWLY_COMPRESSED)
def test_text_formats_are_compressed_by_default(
    base_url: str, client: httpx.Client, media_type: str, encoding: str
) -> None:
    response, raw = fetch_raw(client, f"{base_url}/as/{media_type}", encoding)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["content-encoding"] == encoding
    assert "accept-encoding" in response.headers["vary"].lower()
    assert len(raw) < len(BODY) // 4
    assert decode(encoding, raw) == BODY


@pytest.mark.parametrize("media_type", ALREADY_COMPRESSED)
def test_compressed_formats_pass_untouched(
    base_url: str, client: httpx.Client, media_type: str
) -> None:
    response, raw = fetch_raw(client, f"{base_url}/as/{media_type}", "zstd, br, gzip, deflate")
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert "accept-encoding" in response.headers["vary"].lower()
    assert raw == BODY


def test_excluded_path_passes_untouched_without_vary(base_url: str, client: httpx.Client) -> None:
    response, raw = fetch_raw(client, f"{base_url}/metrics", "gzip, br")
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers
    assert raw == BODY


# --- an invalid option, under a real server -------------------------------------------------


def uvicorn_output_until_running(app: str, deadline: float = 30) -> str:
    """Start uvicorn with its default lifespan handling ("auto") and return what it printed
    by the time it says it is running (no request is made). Always stops it."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", app, "--port", "0"),
                *("--lifespan", "auto", "--log-level", "info"),
            ],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            end = time.monotonic() + deadline
            while True:
                log.seek(0)
                output = log.read().decode("utf-8", "replace")
                if "Uvicorn running on" in output or process.poll() is not None:
                    return output
                if time.monotonic() > end:
                    raise AssertionError(f"uvicorn did not start in {deadline}s:\n{output}")
                time.sleep(0.05)  # polling a file for a line, bounded above: not a sync point
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            if process.poll() is None:
                process.kill()
                process.wait()


def test_invalid_option_is_in_the_server_output_at_startup() -> None:
    if reason := server_unavailable_reason("uvicorn-h11"):
        pytest.skip(reason)
    output = uvicorn_output_until_running("tests.apps.real_traffic_app:broken")
    # Starlette builds the middleware inside the lifespan; uvicorn ("auto") swallows the
    # exception there and says only this, at INFO:
    assert "ASGI 'lifespan' protocol appears unsupported." in output
    line = (
        "asgi_compress: invalid CompressMiddleware option: unknown option 'minimum_size'; "
        "did you mean 'min_size'?"
    )
    assert line in output, output
    assert output.index(line) < output.index("Uvicorn running on")  # at startup, no request
