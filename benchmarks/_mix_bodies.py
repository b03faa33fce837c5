"""The bodies of ``mix.py``'s eleven routes, its request order, and their ideal sizes.

Shared by the server (which sends them) and the benchmark (which compresses each whole at
brotli 11 for the ideal), so that both see the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
from functools import cache
from urllib.parse import parse_qs, urlsplit

import brotli

from ._server import csv_rows
from .payloads import _order, html_page, json_api_response, sse_events

__all__ = [
    "ROUTES", "body_of", "csv_pieces", "error_body", "ideal_key", "ideal_size", "llm_tokens",
    "ndjson_lines", "orders_page", "page", "path_of", "sse_feed", "static_files",
]  # fmt: skip

ROUTES = (
    "/page/home", "/page/product", "/api/orders", "/api/catalog", "/export.csv",
    "/export.ndjson", "/api/items", "/llm", "/events", "/static/app.js", "/static/app.css",
)  # fmt: skip
_ORDER_PAGES = 40
_WORDS = (
    "cart", "price", "render", "state", "user", "order", "item", "query", "cache", "view",
    "token", "event", "button", "modal", "fetch", "route", "store", "list", "grid", "form",
)  # fmt: skip


def path_of(index: int) -> str:
    """The ``index``-th request of the mix: routes in turn, with their query parameters."""
    route = ROUTES[index % len(ROUTES)]
    if route.startswith("/page/"):
        return f"{route}?n={index}"
    if route == "/api/orders":
        return f"{route}?page={index // len(ROUTES) % _ORDER_PAGES}"
    if route == "/api/items":
        return f"{route}?limit=ten&offset=-1"
    return route


def page(name: str, nonce: int) -> bytes:
    """A server-rendered page with a CSRF token of its own: no two responses are alike."""
    html = html_page() if name == "home" else html_page()[:24_000] + b"</div></main></body></html>"
    token = hashlib.sha256(b"%s-%d" % (name.encode(), nonce)).hexdigest().encode()
    return html.replace(b"<head>\n", b'<head>\n<meta name="csrf-token" content="%s">\n' % token, 1)


@cache
def orders_page(number: int) -> bytes:
    rng = random.Random(1000 + number)
    items = [_order(rng, number * 25 + i) for i in range(25)]
    return json.dumps({"page": number, "per_page": 25, "items": items}).encode()


@cache
def csv_pieces() -> list[bytes]:
    """A CSV export of 4,000 rows, 40 rows a message (a cursor's fetchmany)."""
    rows = [b"id,customer,amount,date,status\n", *csv_rows(4000)]
    return [b"".join(rows[i : i + 40]) for i in range(0, len(rows), 40)]


@cache
def ndjson_lines() -> list[bytes]:
    rng = random.Random(5)
    return [json.dumps(_order(rng, i)).encode() + b"\n" for i in range(300)]


@cache
def error_body() -> bytes:
    """A 422 as FastAPI writes one for two bad query parameters."""
    detail = [
        {"type": "int_parsing", "loc": ["query", "limit"],
         "msg": "Input should be a valid integer, unable to parse string as an integer",
         "input": "ten"},
        {"type": "greater_than_equal", "loc": ["query", "offset"],
         "msg": "Input should be greater than or equal to 0", "input": "-1", "ctx": {"ge": 0}},
    ]  # fmt: skip
    return json.dumps({"detail": detail}).encode()


@cache
def llm_tokens() -> list[bytes]:
    rng = random.Random(6)
    return [(rng.choice(_WORDS) + rng.choice((" ", " ", ", ", ". "))).encode() for _ in range(150)]


@cache
def sse_feed() -> list[bytes]:
    return sse_events(120)


@cache
def static_files() -> dict[str, bytes]:
    """A bundled JS file (~120 KB) and a stylesheet (~40 KB)."""
    rng = random.Random(7)
    js = ['"use strict";\n']
    while sum(map(len, js)) < 120_000:
        a, b, c = rng.sample(_WORDS, 3)
        js.append(
            f"export function {a}{b.title()}{rng.randint(0, 999)}({c}, options = {{}}) {{\n"
            f"  const {b} = options.{a} ?? {rng.randint(0, 100)};\n"
            f"  if (!{c} || {c}.length === 0) {{ return null; }}\n"
            f"  return {c}.map((x) => ({{ ...x, {b}: x.{a} * {b} + {rng.randint(1, 9)} }}));\n"
            "}\n"
        )
    css: list[str] = []
    while sum(map(len, css)) < 40_000:
        a, b = rng.sample(_WORDS, 2)
        css.append(
            f".{a}-{b}{rng.randint(0, 99)} {{ display: flex; padding: {rng.randint(0, 24)}px; "
            f"margin: 0 {rng.randint(0, 16)}px; color: #{rng.randint(0, 0xFFFFFF):06x}; "
            f"border-radius: {rng.randint(0, 12)}px; }}\n"
        )
    return {"app.js": "".join(js).encode(), "app.css": "".join(css).encode()}


def body_of(path: str) -> bytes:
    """The whole body the server sends for ``path``, as one piece."""
    parts = urlsplit(path)
    query = parse_qs(parts.query)
    route = parts.path
    if route.startswith("/page/"):
        return page(route.removeprefix("/page/"), int(query["n"][0]))
    if route == "/api/orders":
        return orders_page(int(query["page"][0]))
    if route == "/api/catalog":
        return json_api_response()
    if route == "/export.csv":
        return b"".join(csv_pieces())
    if route == "/export.ndjson":
        return b"".join(ndjson_lines())
    if route == "/api/items":
        return error_body()
    if route == "/llm":
        return b"".join(llm_tokens())
    if route == "/events":
        return b"".join(sse_feed())
    return static_files()[route.removeprefix("/static/")]


def ideal_key(path: str) -> str:
    # Pages differ only in their 64-hex token: one br-11 figure per page stands for them all
    # (brotli-11 of 60 KB takes ~0.1 s; 400 of them would take the run's whole budget).
    return path.split("?")[0] if path.startswith("/page/") else path


@cache
def _ideal_size(key: str) -> int:
    body = body_of(f"{key}?n=0" if key.startswith("/page/") else key)
    return len(brotli.compress(body, quality=11))


def ideal_size(path: str) -> int:
    return _ideal_size(ideal_key(path))
