"""Compression dictionaries (RFC 9842): bytes on the wire and CPU per response, with and without.

Two cases, each against the ordinary codings alone:

- A new release of a published JavaScript library, compressed as ``dcz`` against the previous
  release (what a browser holding the old bundle gets), against br-11 and zstd-19 of the new
  release alone. The releases are fetched from the npm registry by ``npm pack`` into
  ``benchmarks/.cache/npm`` (not committed; reused on the next run).
- Small JSON API responses compressed as ``dcz`` against a dictionary trained (zstd's trainer,
  as ``python -m asgi_compress train-dictionary`` does) on 1,000 sibling responses, against br
  and zstd at the middleware's default levels (br 4, zstd 3), on 200 held-out responses.

CPU is the time of one whole-body encode (a fresh encoder each time, as a response gets),
measured in interleaved rounds (``_common.time_sync_rounds``).

Run: ``python -m benchmarks dictionaries`` (needs ``npm`` on the PATH for the first case).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

import brotli

from asgi_compress.dictionaries.transport import DczEncoder, train_dictionary

from ._common import Budget, Report, Table, fmt, time_sync_rounds, write_results
from .payloads import _order  # the order records the other benchmarks' JSON is made of

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

__all__ = ["RELEASE_PAIRS", "fetch_release", "run"]

CACHE = Path(__file__).resolve().parent / ".cache" / "npm"

# (package, old version, new version, file inside the package tarball)
RELEASE_PAIRS = [
    ("react-dom", "18.2.0", "18.3.1", "package/umd/react-dom.production.min.js"),
    ("lodash", "4.17.20", "4.17.21", "package/lodash.min.js"),
]


def fetch_release(package: str, version: str, member: str) -> bytes | None:
    """One file of a published release, via ``npm pack`` (cached); None without npm."""
    tarball = CACHE / f"{package}-{version}.tgz"
    if not tarball.exists():
        npm = shutil.which("npm")
        if npm is None:
            return None
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "pack", f"{package}@{version}", "--pack-destination", str(CACHE), "--silent"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    with tarfile.open(tarball) as archive:
        extracted = archive.extractfile(member)
        if extracted is None:
            raise FileNotFoundError(f"{member} is not a file in {tarball.name}")
        return extracted.read()


def dcz(dictionary: bytes, level: int) -> Callable[[bytes], bytes]:
    digest = hashlib.sha256(dictionary).digest()
    return lambda body: DczEncoder(dictionary, digest, level).finish(body)


def _check_dcz(encoded: bytes, dictionary: bytes, body: bytes) -> None:
    """Every dcz figure is of a body that decodes (zstd module, dictionary as raw prefix)."""
    decoder = zstd.ZstdDecompressor(zstd_dict=zstd.ZstdDict(dictionary, is_raw=True).as_prefix)
    assert decoder.decompress(encoded[40:]) == body


def _release_table(budget: Budget) -> Table:
    table = Table(
        "A new release against the previous one (JavaScript from npm)",
        ["release", "coding", "bytes", "% of identity", "CPU per response (ms)"],
    )
    for package, old_version, new_version, member in RELEASE_PAIRS:
        old = fetch_release(package, old_version, member)
        new = fetch_release(package, new_version, member)
        if old is None or new is None:
            table.notes.append(f"{package}: skipped, npm is not on the PATH")
            continue
        contenders: dict[str, Callable[[bytes], bytes]] = {
            "br-11": lambda b: brotli.compress(b, quality=11),
            "zstd-19": lambda b: zstd.compress(b, 19),
            "dcz-3 (old release as dictionary)": dcz(old, 3),
            "dcz-19 (old release as dictionary)": dcz(old, 19),
        }
        sizes = {name: len(encode(new)) for name, encode in contenders.items()}
        _check_dcz(dcz(old, 3)(new), old, new)
        times = time_sync_rounds(
            {name: partial(encode, new) for name, encode in contenders.items()},
            budget,
            max_total_s=6.0,
        )
        label = f"{package} {old_version} → {new_version} ({len(new):,} B)"
        for name in contenders:
            table.add(
                label,
                name,
                fmt(sizes[name]),
                fmt(100 * sizes[name] / len(new), 2),
                fmt(times[name] / 1e6, 2),
            )
            label = ""
    table.notes.append(
        "dcz bytes include its 40-byte header; the dictionary is the old release's file as "
        "the browser stored it."
    )
    return table


def _encode_all(encode: Callable[[bytes], bytes], bodies: list[bytes]) -> None:
    for body in bodies:
        encode(body)


def _json_responses(count: int) -> list[bytes]:
    """JSON API responses of a few hundred bytes to a few KB: one order, or a short list."""
    rng = random.Random(2026)
    responses: list[bytes] = []
    for i in range(count):
        orders = [_order(rng, 10_000 + i * 3 + j) for j in range(rng.choice((1, 1, 2, 3)))]
        responses.append(json.dumps({"data": orders, "page": i}).encode())
    return responses


def _json_table(budget: Budget) -> Table:
    responses = _json_responses(1200)
    training, held_out = responses[:1000], responses[1000:]
    dictionary = train_dictionary(training, 32 * 1024)
    table = Table(
        "Small JSON API responses with a trained dictionary (200 held-out responses)",
        ["coding", "median bytes", "total bytes", "% of identity", "CPU per response (µs)"],
    )
    contenders: dict[str, Callable[[bytes], bytes]] = {
        "identity": lambda b: b,
        "gzip-6": lambda b: zlib.compress(b, 6),
        "br-4 (default)": lambda b: brotli.compress(b, quality=4),
        "br-11": lambda b: brotli.compress(b, quality=11),
        "zstd-3 (default)": lambda b: zstd.compress(b, 3),
        "dcz-3 (trained 32 KiB dictionary)": dcz(dictionary, 3),
    }
    for body in held_out[:20]:
        _check_dcz(dcz(dictionary, 3)(body), dictionary, body)
    identity_total = sum(len(b) for b in held_out)
    sample = held_out[:50]
    times = time_sync_rounds(
        {
            name: partial(_encode_all, encode, sample)
            for name, encode in contenders.items()
            if name != "identity"
        },
        budget,
        max_total_s=3.0,
    )
    for name, encode in contenders.items():
        sizes = sorted(len(encode(b)) for b in held_out)
        total = sum(sizes)
        cpu = "-" if name == "identity" else fmt(times[name] / len(sample) / 1e3, 1)
        table.add(
            name,
            fmt(sizes[len(sizes) // 2]),
            fmt(total),
            fmt(100 * total / identity_total, 1),
            cpu,
        )
    table.notes.append(
        f"{len(dictionary):,}-byte dictionary trained on 1,000 sibling responses "
        f"(median identity size {sorted(len(b) for b in held_out)[100]:,} B)."
    )
    return table


def run(budget: Budget | None = None) -> Report:
    budget = budget or Budget.from_env()
    tables = [_release_table(budget), _json_table(budget)]
    write_results(
        "dictionaries",
        "Compression dictionaries (RFC 9842): dcz against the ordinary codings",
        tables,
    )
    return Report("dictionaries", tables)


if __name__ == "__main__":
    run()
