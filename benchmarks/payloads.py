"""Deterministic, realistic payloads, made here so that every run compresses the same bytes.

Nothing is downloaded. Each payload comes from ``random.Random(seed)`` over small fixed
vocabularies, shaped like what web apps really send: a paginated JSON API response (ids,
names, e-mails, timestamps, prices, tags, UUIDs, free text), a server-rendered HTML page (nav,
product cards, inline styles and attributes) and a large JSON export. The mix of repeated keys
and varied values gives ratios in the range real responses get (gzip-6: about 4-7x).

Example:
    >>> from benchmarks.payloads import PAYLOADS
    >>> {name: len(p()) for name, p in PAYLOADS.items()}  # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from functools import cache

__all__ = [
    "PAYLOADS",
    "chunks",
    "html_page",
    "json_api_response",
    "json_document",
    "small_json",
    "sse_events",
]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Ada Alan Barbara Claude Dennis Edsger Frances Grace Guido Hedy Ivan Jean John Ken Linus "
    "Margaret Niklaus Radia Richard Sophie Tim Vint Whitfield Yukihiro Anita Donald Leslie"
)
_LAST = _words(
    "Lovelace Turing Liskov Shannon Ritchie Dijkstra Allen Hopper Rossum Lamarr Sutherland "
    "Sammet Backus Thompson Torvalds Hamilton Wirth Perlman Stallman Wilson Berners-Lee Cerf "
    "Diffie Matsumoto Borg Knuth Lamport"
)
_WORDS = _words(
    "the of and to in is for on with as by at from this that be are it an or was which can "
    "order invoice shipment customer account payment refund product catalog inventory warehouse "
    "delivery status pending shipped delivered cancelled returned priority standard express "
    "discount coupon subscription monthly annual trial premium basic report analytics dashboard "
    "metric latency throughput request response server client cache session token user admin "
    "review rating comment reply thread message notification email phone address city country "
    "blue green red black white small medium large cotton leather steel wooden organic classic"
)
_CITIES = _words(
    "Lisbon Berlin Paris Madrid Rome Vienna Prague Warsaw Oslo Dublin Zurich Athens Helsinki "
    "Tallinn Riga Vilnius Budapest Sofia Bucharest Zagreb"
)
_DOMAINS = ("example.com", "example.org", "mail.example.net", "corp.example")
_TAGS = _words(
    "new sale featured bestseller eco limited gift clearance bundle imported handmade vegan "
    "refurbished exclusive"
)
_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _timestamp(rng: random.Random) -> str:
    return (
        f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"
    )


def _order(rng: random.Random, order_id: int) -> dict[str, object]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    items = [
        {
            "sku": f"SKU-{rng.randint(10000, 99999)}",
            "name": f"{rng.choice(_WORDS).title()} {rng.choice(_WORDS)} {rng.choice(_WORDS)}",
            "quantity": rng.randint(1, 5),
            "unit_price": round(rng.uniform(1, 500), 2),
            "tags": rng.sample(_TAGS, rng.randint(0, 3)),
        }
        for _ in range(rng.randint(1, 4))
    ]
    return {
        "id": order_id,
        "uuid": _uuid(rng),
        "status": rng.choice(_STATUSES),
        "created_at": _timestamp(rng),
        "updated_at": _timestamp(rng),
        "customer": {
            "id": rng.randint(1, 10**6),
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}@{rng.choice(_DOMAINS)}",
            "address": {
                "street": f"{rng.randint(1, 300)} {rng.choice(_WORDS).title()} Street",
                "city": rng.choice(_CITIES),
                "postal_code": f"{rng.randint(1000, 99999)}",
            },
        },
        "items": items,
        "total": round(sum(i["unit_price"] * i["quantity"] for i in items), 2),  # type: ignore[operator]
        "currency": rng.choice(("EUR", "USD", "GBP")),
        "note": _sentence(rng, 4, 16) if rng.random() < 0.6 else None,
    }


def _json_of_size(seed: int, size: int, *, indent: int | None) -> bytes:
    """The shortest orders page, with orders drawn from ``seed``, of at least ``size`` bytes."""
    rng = random.Random(seed)
    orders: list[dict[str, object]] = []

    def render(count: int) -> bytes:
        envelope = {
            "data": orders[:count],
            "meta": {"page": 1, "per_page": count, "total": 1000 + count},
            "links": {"self": "/api/v2/orders?page=1", "next": "/api/v2/orders?page=2"},
        }
        return json.dumps(envelope, indent=indent).encode()

    low = 1
    orders.extend(_order(rng, i + 1) for i in range(32))
    while (rendered := len(render(len(orders)))) < size:
        low = len(orders) + 1  # render(low - 1) is too short
        missing = (size - rendered) * len(orders) // rendered + 1
        orders.extend(_order(rng, len(orders) + 1) for _ in range(missing))
    high = len(orders)  # render(high) >= size: find the shortest count that is
    while low < high:
        middle = (low + high) // 2
        if len(render(middle)) >= size:
            high = middle
        else:
            low = middle + 1
    return render(high)


@cache
def json_api_response() -> bytes:
    """A paginated orders endpoint, compact JSON, about 100 KB."""
    return _json_of_size(1, 100_000, indent=None)


@cache
def json_document() -> bytes:
    """A large export, pretty-printed JSON as many APIs serve it, about 1 MiB."""
    return _json_of_size(2, 1 << 20, indent=2)


@cache
def small_json() -> bytes:
    """A body below the default ``min_size`` (500 bytes)."""
    return json.dumps({"id": 7, "status": "ok", "user": "ada", "roles": ["admin", "dev"]}).encode()


@cache
def html_page() -> bytes:
    """A server-rendered product listing page, about 60 KB."""
    rng = random.Random(3)
    head = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<title>Catalog - Example Shop</title>\n<link rel="stylesheet" href="/static/app.css">\n'
        "<style>.card{display:flex;flex-direction:column;padding:1rem;border:1px solid #ddd;"
        "border-radius:8px}.card h3{margin:0 0 .5rem;font-size:1.1rem}.price{font-weight:700;"
        "color:#0a7}.tag{display:inline-block;padding:0 .4rem;margin-right:.25rem;"
        "background:#eef;border-radius:4px;font-size:.8rem}</style>\n</head>\n<body>\n"
    )
    nav = "".join(
        f'<li class="nav-item"><a class="nav-link" href="/c/{w}">{w.title()}</a></li>\n'
        for w in rng.sample(_WORDS, 12)
    )
    parts = [
        head,
        f'<header class="site-header"><nav><ul class="nav">\n{nav}</ul></nav></header>\n',
    ]
    parts.append('<main class="container"><div class="grid">\n')
    body_budget = 60_000 - 600
    product = 0
    while sum(map(len, parts)) < body_budget:
        product += 1
        name = f"{rng.choice(_WORDS).title()} {rng.choice(_WORDS)} {rng.choice(_WORDS)}"
        tags = "".join(
            f'<span class="tag">{t}</span>' for t in rng.sample(_TAGS, rng.randint(0, 3))
        )
        parts.append(
            f'<article class="card" id="p-{product}" data-sku="SKU-{rng.randint(10000, 99999)}">\n'
            f'  <a href="/p/{product}"><img src="/img/{product}.webp" alt="{name}" loading="lazy"'
            f' width="320" height="240"></a>\n'
            f'  <h3>{name}</h3>\n  <p class="desc">{_sentence(rng, 8, 24)}</p>\n'
            f'  <div class="meta"><span class="price">&euro;{rng.uniform(1, 500):.2f}</span>'
            f' {tags} <span class="rating" title="{rng.randint(1, 5)} of 5">'
            f"{'&#9733;' * rng.randint(1, 5)}</span></div>\n"
            '  <form method="post" action="/cart">'
            f'<input type="hidden" name="id" value="{product}">'
            '<button type="submit" class="btn btn-primary">Add to cart</button></form>\n'
            "</article>\n"
        )
    parts.append("</div></main>\n<footer><p>&copy; 2025 Example Shop</p></footer>\n")
    parts.append('<script src="/static/app.js" defer></script>\n</body>\n</html>\n')
    return "".join(parts).encode()


def sse_events(count: int = 500) -> list[bytes]:
    """Server-sent events of 60-250 bytes each, as a live feed or an LLM stream sends them."""
    rng = random.Random(4)
    events = []
    for i in range(count):
        data = json.dumps(
            {
                "seq": i,
                "type": rng.choice(("delta", "status", "tick")),
                "text": _sentence(rng, 2, 24),
            }
        )
        events.append(f"id: {i}\nevent: update\ndata: {data}\n\n".encode())
    return events


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` cut into ``size``-byte pieces (the last one may be shorter)."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


PAYLOADS: dict[str, Callable[[], bytes]] = {
    "json-100k": json_api_response,
    "html-60k": html_page,
    "json-1m": json_document,
}
"""The one-shot payloads by name, in the order tables show them."""
