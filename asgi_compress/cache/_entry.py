"""Where an entry lives and what it holds: the address, and the framed, checked value.

An address is a function of everything that determines the encoded bytes: the coding, the
encoder's parameters, and either a SHA-256 of the uncompressed body (content-addressed) or a
name the app chose (Flask-Compress's ``cache_key``, a *slot*). Either way the entry carries
the body's digest, and a lookup serves it only when the digest of the body the app produced
this time is the same: a changed body never receives old bytes.

Why SHA-256: it is collision-resistant (an attacker cannot make two bodies share an entry),
it is the fastest of hashlib's on these machines (SHA extensions: ~2 GB/s, against ~1.4 GB/s
for BLAKE2b; benchmarks/results/cache.md), and it costs a small fraction of any codec at its
default level (1 MiB of JSON: 0.5 ms, against 1.7 ms at zstd-3 and 5.9 ms at gzip-6).

The value framing::

    b"ACZ1" | tag (32) | body digest (32) | encoded bytes

``tag`` is HMAC-SHA256 over the address, the body digest and the encoded bytes, keyed with
the cache's ``secret`` (empty by default). It detects a truncated, corrupted or swapped entry.
Without a secret it is a checksum only: whoever can write to the backend can compute it too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

__all__ = ["address", "body_digest", "encoder_params", "pack", "unpack"]

_MAGIC = b"ACZ1"
_TAG = 32
_DIGEST = 32
HEADER_SIZE = len(_MAGIC) + _TAG + _DIGEST
_VERSION = "acz1"


def body_digest(body: bytes) -> bytes:
    """The SHA-256 of an uncompressed body: what an entry is valid for."""
    return hashlib.sha256(body).digest()


def encoder_params(factory: Callable[..., Any] | str) -> str:
    """A stable text form of an encoder factory's parameters, part of every address.

    Args:
        factory: ``functools.partial(EncoderClass, **params)``, as
            :class:`~asgi_compress.settings.Settings` builds them (its ``.keywords`` are the
            params), or a string that already names the parameters.

    Raises:
        TypeError: a factory that does not expose its parameters.

    Example:
        >>> from functools import partial
        >>> from asgi_compress.codecs.encoders import GZipEncoder
        >>> encoder_params(partial(GZipEncoder, level=9))
        'GZipEncoder(level=9)'
    """
    if isinstance(factory, str):
        return factory
    if isinstance(factory, partial) and not factory.args:
        name = getattr(factory.func, "__name__", repr(factory.func))
        keywords: Mapping[str, Any] = factory.keywords
        return f"{name}({','.join(f'{k}={keywords[k]!r}' for k in sorted(keywords))})"
    raise TypeError(
        "a cached encoder must be functools.partial(EncoderClass, **params) or a string "
        f"naming its parameters, got {factory!r}"
    )


def address(coding: str, params: str, *, digest: bytes, slot: str | None = None) -> str:
    """The backend key of an entry: short, fixed-length, safe as a file name.

    Content-addressed (``slot=None``) it names the body by its digest; with a ``slot`` it
    names the app's key instead, and the digest inside the entry validates it.
    """
    what = digest.hex() if slot is None else "slot\0" + slot
    name = hashlib.sha256(f"{_VERSION}\0{coding}\0{params}\0{what}".encode()).hexdigest()
    return f"{_VERSION}-{coding}-{name}"


def _tag(secret: bytes, key: str, digest: bytes, encoded: bytes | memoryview) -> bytes:
    mac = hmac.new(secret, key.encode(), hashlib.sha256)
    mac.update(digest)
    mac.update(encoded)
    return mac.digest()


def pack(secret: bytes, key: str, digest: bytes, encoded: bytes) -> bytes:
    """Frame ``encoded`` for storage under ``key``, valid for the body with ``digest``."""
    return b"".join((_MAGIC, _tag(secret, key, digest, encoded), digest, encoded))


def unpack(secret: bytes, key: str, digest: bytes, value: object) -> bytes | None:
    """The encoded bytes of a stored value, or ``None`` unless it is intact, was stored under
    ``key`` and is valid for the body with ``digest``."""
    if not isinstance(value, bytes) or len(value) <= HEADER_SIZE or value[:4] != _MAGIC:
        return None
    view = memoryview(value)
    tag = view[4 : 4 + _TAG]
    stored_digest = view[4 + _TAG : HEADER_SIZE]
    encoded = view[HEADER_SIZE:]
    if not hmac.compare_digest(stored_digest, digest):
        return None  # another body's entry (a slot whose page changed): a miss
    if not hmac.compare_digest(tag, _tag(secret, key, digest, encoded)):
        return None
    return bytes(encoded)
