"""A short soak: uvicorn + the soak app, 64 concurrent clients, every response verified.

The full run is ``python -m benchmarks.soak`` (tens of thousands of requests, ~2.5 min); it
also samples the server's memory, open files and threads and fails when they grow. Those are
measurements, not facts a short run can establish, so they stay there. This test sends a
fixed number of requests of every kind with the same per-response checks, and asserts only
what does not depend on the machine's speed: every request was made, none failed or came back
corrupted, and the server logged no error.
"""

from __future__ import annotations

import sys

import pytest

from benchmarks.soak import run_soak

pytestmark = [
    pytest.mark.soak,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="the soak server is sampled through /proc"
    ),
]

REQUESTS = 1200


def test_short_soak_is_clean() -> None:
    # seconds: a bound against a hung server, far above what the requests need.
    report = run_soak(requests=REQUESTS, seconds=240, warmup=0, interval=0.5)
    print(report.format())  # shown with -s, and on failure
    assert report.failure_count == 0, report.failures[:10]
    assert report.server_errors == []
    assert report.requests == REQUESTS, "the time bound cut the run short (server hung?)"
    assert set(report.kinds) == {
        "small",
        "json",
        "large",
        "stream",
        "sse",
        "head",
        "conditional",
        "disconnect",
    }
