"""Caching proxies in front of the middleware: nginx's proxy_cache and Varnish, from Debian.

Issue 19: a shared cache must never hand a body of one coding to a client that did not accept
it, and must keep one cached variant per coding. Each test requests one page through a real
proxy in a mixed order (br, gzip, identity, zstd, deflate, then again, so the second round can
come from the cache) and checks every answer: its Content-Encoding is one the client accepted,
its body decodes (the harness's independent decoders) to the page, and Vary names Accept-Encoding.
The origin (tests/apps/proxy_app.py, under uvicorn) records the Accept-Encoding of every request
that reached it, which shows what the proxy answered from its cache and what it asked for.

The proxies run from config files written to a temporary directory, on free ports of
127.0.0.1, one of each per module, and are stopped at module end. A missing binary skips its
tests with the package to install (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.apps.proxy_app import PAGE
from tests.harness import decode
from tests.harness.servers import free_port, run_server, serving

pytestmark = pytest.mark.interop

SBIN = "/usr/local/sbin:/usr/sbin:/sbin"  # where Debian puts both, off a plain user's PATH

# nginx: a plain proxy_cache. nginx keys each response with Vary by the request headers it
# names (one cached variant per Accept-Encoding value), so nothing more is needed to be correct.
NGINX_CONF = """\
%(user)s
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    proxy_cache_path %(dir)s/cache levels=1:2 keys_zone=app:1m max_size=16m inactive=10m
                     use_temp_path=off;
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://127.0.0.1:%(origin)d;
            proxy_http_version 1.1;
            proxy_cache app;
            add_header X-Cache-Status $upstream_cache_status always;
        }
    }
}
"""

VCL_BACKEND = """\
vcl 4.1;
backend default { .host = "127.0.0.1"; .port = "ORIGIN_PORT"; }
"""

# The documented snippet: one Accept-Encoding per coding, in the middleware's order of
# preference, so that Vary: Accept-Encoding keeps at most five variants per URL. A coding
# counts when it is listed with no q-value or a q-value above 0 (RFC 9110 section 12.5.3):
# "br;q=0" refuses br and must not share br's variant. It needs varnishd
# -p http_gzip_support=off: with it on, Varnish asks the origin for gzip whatever vcl_recv
# left (test_varnish_vcl_alone_is_overridden_while_http_gzip_support_is_on).
VCL_ACCEPT_ENCODING = r"""
sub vcl_recv {
    if (req.http.Accept-Encoding ~ "(?i)(^|,)\s*zstd\s*(;\s*q\s*=\s*(1(\.0*)?|0?\.0*[1-9][0-9]*))?\s*(,|$)") {
        set req.http.Accept-Encoding = "zstd";
    } elsif (req.http.Accept-Encoding ~ "(?i)(^|,)\s*br\s*(;\s*q\s*=\s*(1(\.0*)?|0?\.0*[1-9][0-9]*))?\s*(,|$)") {
        set req.http.Accept-Encoding = "br";
    } elsif (req.http.Accept-Encoding ~ "(?i)(^|,)\s*gzip\s*(;\s*q\s*=\s*(1(\.0*)?|0?\.0*[1-9][0-9]*))?\s*(,|$)") {
        set req.http.Accept-Encoding = "gzip";
    } elsif (req.http.Accept-Encoding ~ "(?i)(^|,)\s*deflate\s*(;\s*q\s*=\s*(1(\.0*)?|0?\.0*[1-9][0-9]*))?\s*(,|$)") {
        set req.http.Accept-Encoding = "deflate";
    } else {
        unset req.http.Accept-Encoding;
    }
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
"""  # noqa: E501 (VCL: one regex per line, as it would be pasted)


@dataclass(frozen=True)
class Visit:
    """A request with ``accept``, answered with ``coding`` (None: unencoded)."""

    accept: str
    coding: str | None


ALL = [
    Visit("br", "br"),
    Visit("gzip", "gzip"),
    Visit("identity", None),
    Visit("zstd", "zstd"),
    Visit("deflate", "deflate"),
]
"""The first round: each coding once; then the same again, from the cache."""


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=SBIN)
    if found is None:
        package = {"varnishd": "varnish"}.get(name, name)
        pytest.skip(f"{name} is not installed (apt-get install {package})")
    return found


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with serving("tests.apps.proxy_app:app") as url:
        yield url


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def nginx(origin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = _binary("nginx")
    directory = tmp_path_factory.mktemp("nginx")
    port = free_port()
    conf = directory / "nginx.conf"
    # As root the workers would switch to nobody, who cannot write the cache in our tmp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    values = {"user": user, "dir": directory, "port": port, "origin": _port(origin)}
    conf.write_text(NGINX_CONF % values)
    command = [binary, "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")]
    with run_server([*command, "-g", "daemon off;"], port, "nginx") as url:
        yield url


def _varnish(origin: str, directory: Path, vcl: str, *params: str) -> Iterator[str]:
    binary = _binary("varnishd")
    port = free_port()
    vcl_path = directory / "app.vcl"
    vcl_path.write_text(VCL_BACKEND.replace("ORIGIN_PORT", str(_port(origin))) + vcl)
    # -j none: no privilege switch, so the work dir in our tmp dir stays ours.
    command = [binary, "-F", "-j", "none", "-a", f"127.0.0.1:{port}", "-f", str(vcl_path)]
    command += ["-n", str(directory / "work"), "-s", "malloc,32m", *params]
    with run_server(command, port, "varnishd") as url:
        yield url


@pytest.fixture(scope="module")
def varnish_default(origin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Varnish as installed: a backend, the builtin VCL, http_gzip_support on."""
    yield from _varnish(origin, tmp_path_factory.mktemp("varnish-default"), "")


@pytest.fixture(scope="module")
def varnish_gzip_on(origin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The documented VCL, with http_gzip_support left on."""
    directory = tmp_path_factory.mktemp("varnish-gzip-on")
    yield from _varnish(origin, directory, VCL_ACCEPT_ENCODING)


@pytest.fixture(scope="module")
def varnish(origin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The documented set-up: the VCL, and ``-p http_gzip_support=off``."""
    directory = tmp_path_factory.mktemp("varnish")
    yield from _varnish(origin, directory, VCL_ACCEPT_ENCODING, "-p", "http_gzip_support=off")


def visit(client: httpx.Client, url: str, step: Visit) -> httpx.Response:
    """GET ``url`` with ``step.accept``; check it came in ``step.coding`` and decodes to the page.

    The body is taken off the wire undecoded (httpx would decode it otherwise).
    """
    with client.stream("GET", url, headers={"Accept-Encoding": step.accept}) as response:
        raw = b"".join(response.iter_raw())
    assert response.status_code == 200
    assert response.headers.get("content-encoding") == step.coding, step.accept
    assert "accept-encoding" in response.headers["vary"].lower()
    assert (raw if step.coding is None else decode(step.coding, raw)) == PAGE
    return response


def seen_by_origin(client: httpx.Client, origin: str, name: str) -> list[str | None]:
    """The Accept-Encoding of every request for ``/page/<name>`` that reached the origin."""
    seen: list[str | None] = client.get(f"{origin}/seen/{name}").json()
    return seen


def test_nginx_proxy_cache_serves_each_client_the_coding_it_accepted(
    nginx: str, origin: str, client: httpx.Client
) -> None:
    url = f"{nginx}/page/nginx"
    first = [visit(client, url, step).headers["x-cache-status"] for step in ALL]
    again = [visit(client, url, step).headers["x-cache-status"] for step in ALL]
    assert first == ["MISS"] * len(ALL)
    assert again == ["HIT"] * len(ALL)
    assert seen_by_origin(client, origin, "nginx") == [step.accept for step in ALL]


def test_nginx_does_not_serve_a_refused_coding_from_its_cache(
    nginx: str, origin: str, client: httpx.Client
) -> None:
    url = f"{nginx}/page/nginx-refused"
    visit(client, url, Visit("br, gzip", "br"))
    visit(client, url, Visit("gzip, br;q=0", "gzip"))
    visit(client, url, Visit("br;q=0, gzip;q=0, identity", None))
    assert visit(client, url, Visit("br, gzip", "br")).headers["x-cache-status"] == "HIT"


def test_varnish_default_vcl_never_serves_br_or_zstd(
    varnish_default: str, origin: str, client: httpx.Client
) -> None:
    """Builtin behaviour: Varnish asks the origin for gzip only, and gunzips for the rest."""
    url = f"{varnish_default}/page/varnish-default"
    gzip_or_nothing = [Visit(v.accept, "gzip" if v.coding == "gzip" else None) for v in ALL]
    for step in [*gzip_or_nothing, Visit("zstd, br", None), *gzip_or_nothing]:
        response = visit(client, url, step)
        assert response.headers.get("content-encoding") not in ("br", "zstd")
    # One fetch, with the Accept-Encoding Varnish wrote in place of the client's.
    assert seen_by_origin(client, origin, "varnish-default") == ["gzip"]


def test_varnish_vcl_alone_is_overridden_while_http_gzip_support_is_on(
    varnish_gzip_on: str, origin: str, client: httpx.Client
) -> None:
    url = f"{varnish_gzip_on}/page/varnish-gzip-on"
    visit(client, url, Visit("br", None))
    visit(client, url, Visit("zstd", None))
    visit(client, url, Visit("gzip", "gzip"))
    assert seen_by_origin(client, origin, "varnish-gzip-on") == ["gzip"]


def test_varnish_with_the_accept_encoding_vcl_caches_each_coding(
    varnish: str, origin: str, client: httpx.Client
) -> None:
    url = f"{varnish}/page/varnish"
    first = [visit(client, url, step).headers["x-cache"] for step in ALL]
    again = [visit(client, url, step).headers["x-cache"] for step in ALL]
    assert first == ["MISS"] * len(ALL)
    assert again == ["HIT"] * len(ALL)
    # Each coding fetched once, as the VCL normalised it (no header: identity).
    expected = [step.coding for step in ALL]
    assert seen_by_origin(client, origin, "varnish") == expected


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        pytest.param("gzip, deflate, br, zstd", "zstd", id="browser"),
        pytest.param("gzip, br;q=0", "gzip", id="br-refused"),
        pytest.param("br;q=0.5, gzip", "br", id="br-low-q-still-accepted"),
        pytest.param("zstd;q=0, br;q=0.0, gzip;q=0.000, deflate", "deflate", id="three-refused"),
        pytest.param("zstd;q=0, br;q=0, gzip;q=0, deflate;q=0", None, id="all-refused"),
        pytest.param("*", None, id="wildcard-gets-identity"),
        pytest.param("ZSTD", "zstd", id="case-insensitive"),
        pytest.param("zstdx, brotli, xgzip", None, id="lookalike-tokens"),
    ],
)
def test_varnish_vcl_never_serves_a_refused_coding(
    varnish: str, client: httpx.Client, accept: str, coding: str | None
) -> None:
    # Each value shares the cached variant of the coding it normalises to (or identity's).
    visit(client, f"{varnish}/page/varnish-refused", Visit(accept, coding))
