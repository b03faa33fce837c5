"""A short soak run: uvicorn + the soak app, 64 concurrent clients, every response verified.

The full run is ``python -m benchmarks.soak`` (tens of thousands of requests, ~2.5 min); this
one sends a few thousand with the same checks: no failed or corrupted response, no error in
the server's log, and the server's memory, open files and threads flat from the first to
the last quarter of the measured part.
"""

from __future__ import annotations

import sys

import pytest

from benchmarks.soak import run_soak

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="samples the server through /proc"
)


def test_short_soak_is_clean_and_flat() -> None:
    report = run_soak(requests=2000, seconds=25, warmup=1500, interval=0.05)
    print(report.format())  # shown with -s, and on failure
    assert report.failure_count == 0, report.failures[:10]
    assert report.server_errors == []
    assert report.requests >= 1000, "too few requests to judge (machine too slow?)"
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
    assert report.problems() == []
