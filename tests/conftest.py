"""Fixtures and hooks only; the harness the tests import is ``tests/harness/``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.harness.tracked import EncoderTracker

# No test may depend on timing: hypothesis's default 200 ms deadline per example would fail
# a property on a busy machine, so no property has one (explicit settings inherit this).
settings.register_profile("asgi-compress", deadline=None)
settings.load_profile("asgi-compress")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def encoders(monkeypatch: pytest.MonkeyPatch) -> Iterator[EncoderTracker]:
    """Track every encoder made by a middleware built after this fixture (harness/tracked.py)."""
    tracker = EncoderTracker().install(monkeypatch)
    yield tracker
    # Whatever the test did, no encoder call may still run once it is over.
    assert tracker.wait_idle(), "an encoder call was still running after the test"
