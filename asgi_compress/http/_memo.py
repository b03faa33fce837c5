"""The one memo policy of the hot path: a dict read first, filled up to a bound.

Negotiation, media-type matching and the middleware's offers each answer the same few values
again and again (clients send a handful of Accept-Encoding values, apps a handful of media
types), so each keeps its answers in a :class:`Memo`: a plain ``dict``, so that a hit is one
C-level ``get``. The keys come from clients or apps, so any string can arrive: when the
bound is reached the memo starts over, empty. A flood of made-up values costs their
computation and never more than the bound in memory, and the common values are back after
one miss each, with no bookkeeping per hit (an LRU order would cost every hit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Memo"]

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V], Generic[K, V]):
    """A bounded memo: read it with ``get`` (or :meth:`answer`); :meth:`keep` stores an answer,
    after emptying the memo when it is full.

    Example:
        >>> memo: Memo[str, int] = Memo(2)
        >>> memo.keep("a", 1), memo.keep("b", 2), memo.keep("c", 3)
        (1, 2, 3)
        >>> sorted(memo)
        ['c']
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` (the memo starts over when full); return ``value``."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value

    def answer(self, key: K, compute: Callable[[K], V]) -> V:
        """The remembered answer for ``key``, else ``compute(key)``, kept if there is room."""
        try:
            return self[key]
        except KeyError:
            return self.keep(key, compute(key))
