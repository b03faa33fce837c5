"""``python -m asgi_compress warm DIR --cache URL_OR_DIR``: the command over
:func:`asgi_compress.cache.warm.warm`.

Parses ``--levels`` and ``--cache`` (a Redis URL or a directory), runs the warm-up, prints
what it stored.
"""

from __future__ import annotations

import argparse
from functools import partial

import anyio

from ..cache import CacheBackend
from ..cache import warm as warm_module
from ..cache.directory import DirectoryCache
from ..cache.response import DEFAULT_CACHE_MAX_SIZE
from ..cache.warm import DEFAULT_LEVELS, WarmResult, warm
from ._command import or_exit, require_directory

__all__ = ["add_warm_command", "open_backend", "parse_levels"]


def parse_levels(text: str) -> dict[str, int]:
    """``"br=11,gzip=9"`` -> ``{"br": 11, "gzip": 9}``.

    Raises:
        ValueError: not ``coding=level`` pairs.
    """
    levels: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        coding, sep, level = item.partition("=")
        if not sep or not level.strip().lstrip("-").isdigit():
            raise ValueError(f"--levels: expected coding=level, got {item!r}")
        levels[coding.strip().lower()] = int(level)
    return levels


def open_backend(where: str, *, max_bytes: int, ttl: float | None) -> CacheBackend:
    """A :class:`RedisCache` for a ``redis://``, ``rediss://`` or ``unix://`` URL, else a
    :class:`DirectoryCache` at that path."""
    if where.startswith(("redis://", "rediss://", "unix://")):
        from ..cache.redis import RedisCache

        return RedisCache(where, ttl=ttl, timeout=10.0, retry_after=0)
    return DirectoryCache(where, max_bytes=max_bytes)


def add_warm_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``warm`` on the ``python -m asgi_compress`` dispatcher."""
    parser = subparsers.add_parser(
        "warm",
        help="compress a directory of static files into a cache at the cache levels",
        description=warm_module.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directory", help="the static files' root")
    parser.add_argument(
        "--cache", required=True, help="a redis:// URL or a directory (DirectoryCache)"
    )
    parser.add_argument(
        "--levels", default=DEFAULT_LEVELS, help=f"coding=level,... (default {DEFAULT_LEVELS})"
    )
    parser.add_argument(
        "--max-size", type=int, default=DEFAULT_CACHE_MAX_SIZE, help="largest file to store"
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=256 * 1024 * 1024,
        help="a DirectoryCache's bound (default 256 MiB)",
    )
    parser.add_argument("--ttl", type=float, default=24 * 3600, help="Redis TTL in seconds")
    parser.set_defaults(run=run_warm)


def run_warm(args: argparse.Namespace) -> int:
    """The ``warm`` command: returns the exit status."""
    require_directory("warm", args.directory)
    levels = or_exit("warm", partial(parse_levels, args.levels))
    backend = or_exit(
        "warm", partial(open_backend, args.cache, max_bytes=args.max_bytes, ttl=args.ttl)
    )

    async def main() -> WarmResult:
        try:
            return await warm(args.directory, backend, levels, max_size=args.max_size)
        finally:
            close = getattr(backend, "aclose", None)
            if close is not None:
                await close()

    result = or_exit("warm", partial(anyio.run, main))
    print(
        f"warm: {result.stored} entries stored, {result.present} already there, "
        f"{result.skipped_files} files skipped (type or size)"
    )
    return 0
