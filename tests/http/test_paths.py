"""The request's path, as ``exclude_paths`` and the report see it (issue 16 item 6): the
path from the server's root, whether ``scope["path"]`` already holds ``root_path`` (the ASGI
spec's reading, Starlette >= 0.35's Mount, uvicorn's --root-path) or not (older Starlette)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from asgi_compress import CompressionReport, CompressMiddleware
from asgi_compress._types import ASGIApp
from tests.harness import app_sending, body, decode, make_scope, run, start, text

PAGE = text(5000)


def mounted(directory: Path, reports: list[CompressionReport], **options: Any) -> ASGIApp:
    """A Starlette app whose ``/static`` Mount holds our middleware around StaticFiles."""
    (directory / "page.html").write_bytes(PAGE)
    (directory / "private").mkdir()
    (directory / "private" / "page.html").write_bytes(PAGE)
    inner = CompressMiddleware(
        StaticFiles(directory=directory), on_response=reports.append, **options
    )
    return Starlette(routes=[Mount("/static", app=inner)])


async def test_the_report_names_the_path_once_under_a_starlette_mount(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Starlette's Mount sets ``root_path="/static"`` and keeps the full ``path``: adding
    the two reported ``/static/static/page.html``."""
    reports: list[CompressionReport] = []
    app = mounted(tmp_path, reports)
    with caplog.at_level(logging.DEBUG, logger="asgi_compress"):
        rec = await run(app, make_scope(path="/static/page.html", accept_encoding="br"))
    assert decode("br", rec.body) == PAGE
    assert [r.path for r in reports] == ["/static/page.html"]
    assert [r.getMessage() for r in caplog.records] == ["/static/page.html 200: br"]


async def test_exclude_paths_see_the_same_path_under_a_starlette_mount(tmp_path: Path) -> None:
    reports: list[CompressionReport] = []
    app = mounted(tmp_path, reports, exclude_paths=["/static/private"])
    kept = await run(app, make_scope(path="/static/private/page.html", accept_encoding="br"))
    assert "content-encoding" not in kept.headers and kept.body == PAGE
    encoded = await run(app, make_scope(path="/static/page.html", accept_encoding="br"))
    assert decode("br", encoded.body) == PAGE
    assert [(r.path, r.coding) for r in reports] == [
        ("/static/private/page.html", None),
        ("/static/page.html", "br"),
    ]


@pytest.mark.parametrize(
    ("root_path", "path", "full"),
    [
        pytest.param("", "/page.html", "/page.html", id="no-root-path"),
        pytest.param("/static", "/static/page.html", "/static/page.html", id="path-holds-it"),
        pytest.param("/static", "/page.html", "/static/page.html", id="path-lacks-it"),
        pytest.param("/static", "/static", "/static", id="the-root-itself"),
        pytest.param("/static", "/", "/static/", id="root-slash"),
        # "/staticx" cannot be under the root "/static": the root is not in it yet.
        pytest.param("/static", "/staticx/a", "/static/staticx/a", id="not-a-segment"),
        pytest.param("/static/", "/static/a", "/static/a", id="root-with-slash"),
    ],
)
async def test_one_request_path_for_the_report_and_exclude_paths(
    root_path: str, path: str, full: str
) -> None:
    """Both conventions, on raw scopes: the report names ``full``, and ``exclude_paths``
    set to ``full`` matches it."""
    reports: list[CompressionReport] = []
    msgs = [start(content_type="text/html"), body(PAGE)]
    for exclude in ((), (full,)):
        app = CompressMiddleware(
            app_sending(msgs), on_response=reports.append, exclude_paths=exclude
        )
        scope = make_scope(path=path, accept_encoding="gzip")
        scope["root_path"] = root_path
        rec = await run(app, scope)
        assert rec.headers.get("content-encoding") == (None if exclude else "gzip")
    assert [(r.path, r.coding) for r in reports] == [(full, "gzip"), (full, None)]
