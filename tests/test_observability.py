"""The ``on_response`` hook option and examples/prometheus_metrics.py (issue 9, observability).

The example's own logic is driven with :class:`CompressionReport` values, the hook's public
input; the exposition is read back with prometheus-client's own parser.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from asgi_compress import CompressionReport, CompressMiddleware, PassReason, Settings
from examples.prometheus_metrics import CompressionMetrics, app
from tests.harness import app_sending, body, make_scope, run, start, text


def report(coding: str | None, reason: PassReason | None, **fields: Any) -> CompressionReport:
    values: dict[str, Any] = {
        "status": 200,
        "media_type": "application/json",
        "bytes_in": 10_000,
        "bytes_out": 2_000 if coding else 10_000,
        "codec_seconds": 0.0004 if coding else 0.0,
        "cached": False,
        "path": "/report",
    }
    values.update(fields)
    return CompressionReport(coding=coding, reason=reason, **values)


def samples(metrics: CompressionMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the scrape text, keyed by (name, sorted labels)."""
    text_format = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text_format)
        for sample in family.samples
    }


def test_reports_become_counters_and_histograms() -> None:
    metrics = CompressionMetrics()
    metrics(report("br", None))
    metrics(report("br", None, bytes_in=300_000, bytes_out=40_000, cached=True))
    metrics(report(None, PassReason.MEDIA_TYPE, media_type="image/png"))
    metrics(report(None, PassReason.SIZE, bytes_in=2, bytes_out=2))
    got = samples(metrics)
    assert got[("asgi_compress_responses_total", (("coding", "br"), ("reason", "")))] == 2
    for reason in ("media-type", "size"):
        key = ("asgi_compress_responses_total", (("coding", "identity"), ("reason", reason)))
        assert got[key] == 1
    assert got[("asgi_compress_body_bytes_sum", (("coding", "br"), ("side", "in")))] == 310_000
    assert got[("asgi_compress_body_bytes_sum", (("coding", "br"), ("side", "out")))] == 42_000
    # 10 000 in falls in the 16 KiB bucket, 300 000 in the 1 MiB one.
    le_16k = (("coding", "br"), ("le", "16384.0"), ("side", "in"))
    assert got[("asgi_compress_body_bytes_bucket", le_16k)] == 1
    assert got[("asgi_compress_codec_seconds_count", (("coding", "br"),))] == 2
    assert ("asgi_compress_codec_seconds_count", (("coding", "identity"),)) not in got
    assert got[("asgi_compress_cache_hits_total", (("coding", "br"),))] == 1


def test_each_hook_has_its_own_registry() -> None:
    first, second = CompressionMetrics(), CompressionMetrics()
    first(report("gzip", None))
    assert ("asgi_compress_responses_total", (("coding", "gzip"), ("reason", ""))) not in samples(
        second
    )


async def test_example_app_serves_its_metrics_and_wires_the_hook() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        scraped = await client.get("/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        names = {f.name for f in text_string_to_metric_families(scraped.text)}
        assert {"asgi_compress_responses", "asgi_compress_body_bytes"} <= names
        page = await client.get("/report", headers={"Accept-Encoding": "gzip"})
        assert page.headers["content-encoding"] == "gzip"
        assert len(page.json()["rows"]) == 300


# --- the option ---------------------------------------------------------------------------


def test_on_response_is_kept_as_given() -> None:
    metrics = CompressionMetrics()
    assert Settings.from_options(on_response=metrics).on_response is metrics
    assert Settings().on_response is None
    assert Settings.from_config({"COMPRESS_ON_RESPONSE": metrics}).on_response is metrics


@pytest.mark.parametrize("hook", [1, "metrics", b"x"])
def test_on_response_must_be_callable(hook: object, caplog: pytest.LogCaptureFixture) -> None:
    options: dict[str, Any] = {"on_response": hook}
    with caplog.at_level(logging.ERROR, logger="asgi_compress"), pytest.raises(TypeError):
        CompressMiddleware(app_sending([]), **options)
    assert "on_response" in caplog.text


async def test_hook_receives_one_report_per_response() -> None:
    reports: list[CompressionReport] = []
    page = text(5000)
    inner = app_sending([start(content_type="text/html"), body(page)])
    await run(
        CompressMiddleware(inner, on_response=reports.append),
        make_scope(path="/page", accept_encoding="br"),
    )
    assert len(reports) == 1
    got = reports[0]
    assert (got.coding, got.reason, got.status, got.path) == ("br", None, 200, "/page")
    assert got.bytes_in == len(page) and 0 < got.bytes_out < len(page)
