"""``exclude_paths``: which request paths are never compressed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._types import Scope

__all__ = ["PathFilter", "full_path", "request_path"]


def request_path(scope: Scope) -> str:
    """The request's path from the server's root, as ``exclude_paths`` match it and reports
    name it (see :func:`full_path`)."""
    return full_path(scope.get("path", ""), scope.get("root_path", ""))


def full_path(scope_path: str, root_path: str) -> str:
    """The request's path from the server's root, from a scope's ``path`` and ``root_path``.

    The ASGI spec has ``path`` hold ``root_path`` (its "WSGI compatibility" section derives
    PATH_INFO by stripping it), and so do uvicorn's ``--root-path`` and Starlette >= 0.35's
    ``Mount``; older Starlette (< 0.33) and some routers strip it. It is added only when
    ``path`` does not already start with it at a segment boundary: ``/staticx`` is not under
    the root ``/static``, so it lacks it.
    """
    root = root_path.rstrip("/")
    if not root or scope_path == root or scope_path.startswith(root + "/"):
        return scope_path
    return root + scope_path


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
