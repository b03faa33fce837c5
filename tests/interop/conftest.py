"""Fixtures of the tests that talk to real servers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One httpx client per module (it decodes nothing read with ``fetch_raw``)."""
    with httpx.Client(timeout=20) as client:
        yield client
