"""``exclude_paths``: which request paths are never compressed."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["PathFilter", "full_path"]


def full_path(scope_path: str, root_path: str) -> str:
    """The request's path from the server's root: ``root_path + path``.

    Servers disagree on whether ``path`` already holds ``root_path`` (uvicorn >= 0.26 puts
    it there; the ASGI spec's older reading does not), so it is added only when missing.
    """
    if not root_path or scope_path.startswith(root_path):
        return scope_path
    return root_path + scope_path


class PathFilter:
    """Matches a full request path against prefixes and regular expressions.

    A prefix matches whole segments: ``"/static"`` matches ``/static`` and ``/static/app.js``,
    not ``/statics``; ``"/"`` matches every path. A compiled pattern matches when
    ``pattern.search(path)`` finds it (anchor it with ``^`` or ``$`` as needed).

    Example:
        >>> excluded = PathFilter(["/metrics", re.compile(r"\\.zip$")])
        >>> excluded("/metrics"), excluded("/files/a.zip"), excluded("/metricsx")
        (True, True, False)
    """

    __slots__ = ("_exact", "_patterns", "_prefixes")

    def __init__(self, patterns: Iterable[str | re.Pattern[str]]) -> None:
        patterns = tuple(patterns)
        prefixes = [p for p in patterns if isinstance(p, str)]
        self._exact = frozenset(prefixes)
        self._prefixes = tuple(p if p.endswith("/") else p + "/" for p in prefixes)
        self._patterns = tuple(p for p in patterns if isinstance(p, re.Pattern))

    def __call__(self, path: str) -> bool:
        """Whether ``path`` (``root_path + path``) is excluded."""
        return (
            path in self._exact
            or path.startswith(self._prefixes)
            or any(p.search(path) for p in self._patterns)
        )
