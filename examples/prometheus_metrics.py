"""Export what CompressMiddleware does as Prometheus metrics, through its ``on_response`` hook.

Install and run it from the repository root, then open http://127.0.0.1:8000/metrics::

    pip install 'asgi-compress[metrics,starlette]'
    uvicorn examples.prometheus_metrics:app

The middleware calls the hook once per response with a
:class:`~asgi_compress.CompressionReport`; :class:`CompressionMetrics` turns each report into:

- ``asgi_compress_responses_total{coding, reason}``: responses by the coding sent
  (``identity`` when none) and the reason they passed (empty when encoded);
- ``asgi_compress_body_bytes{coding, side}``: body sizes before (``side="in"``) and after
  (``side="out"``) the middleware, as histograms;
- ``asgi_compress_codec_seconds{coding}``: time spent in the codec per encoded response;
- ``asgi_compress_cache_hits_total{coding}``: encoded bodies served from the cache.

Every label takes a handful of values (the codings and :class:`~asgi_compress.PassReason`),
never the path: a label per URL would grow without bound. The hook runs on the event loop
for every response, so it only counts and observes.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from asgi_compress import CompressionReport, CompressMiddleware

__all__ = ["SIZE_BUCKETS", "CompressionMetrics", "app", "metrics"]

SIZE_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, float("inf"))
"""Body sizes in bytes, by powers of four: from a small JSON answer to a large export."""

_SECONDS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, float("inf"))


class CompressionMetrics:
    """An ``on_response`` hook that records each report in a Prometheus registry.

    Args:
        registry: where the metrics live; a fresh one by default (pass
            ``prometheus_client.REGISTRY`` to expose them with the process's own metrics).

    Example:
        >>> metrics = CompressionMetrics()
        >>> app = CompressMiddleware(asgi_app, on_response=metrics)  # doctest: +SKIP
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.responses = Counter(
            "asgi_compress_responses",
            "HTTP responses by the coding sent (identity: none) and why they passed.",
            ["coding", "reason"],
            registry=self.registry,
        )
        self.body_bytes = Histogram(
            "asgi_compress_body_bytes",
            "Body bytes the app produced (side=in) and sent to the server (side=out).",
            ["coding", "side"],
            buckets=SIZE_BUCKETS,
            registry=self.registry,
        )
        self.codec_seconds = Histogram(
            "asgi_compress_codec_seconds",
            "Seconds spent in the codec per encoded response, worker threads included.",
            ["coding"],
            buckets=_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "asgi_compress_cache_hits",
            "Encoded bodies served from the cache.",
            ["coding"],
            registry=self.registry,
        )

    def __call__(self, report: CompressionReport) -> None:
        """Record one response (the ``on_response`` hook)."""
        coding = report.coding or "identity"
        reason = report.reason.value if report.reason is not None else ""
        self.responses.labels(coding, reason).inc()
        self.body_bytes.labels(coding, "in").observe(report.bytes_in)
        self.body_bytes.labels(coding, "out").observe(report.bytes_out)
        if report.coding is not None:
            self.codec_seconds.labels(coding).observe(report.codec_seconds)
            if report.cached:
                self.cache_hits.labels(coding).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format, as a scrape receives them."""
        return generate_latest(self.registry)


metrics = CompressionMetrics()
"""The hook the example app reports to."""


async def report(request: Request) -> JSONResponse:
    rows = [
        {"id": i, "name": f"item {i}", "tags": ["a", "b", "c"][: i % 3 + 1]} for i in range(300)
    ]
    return JSONResponse({"rows": rows})


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")  # below min_size: counted with reason="size"


async def scrape(request: Request) -> Response:
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


app = Starlette(
    routes=[Route("/report", report), Route("/health", health), Route("/metrics", scrape)],
    middleware=[Middleware(CompressMiddleware, on_response=metrics)],
)
