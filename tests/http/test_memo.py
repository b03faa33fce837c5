"""The one memo policy (asgi_compress/http/_memo.py): bounded, a hit is a dict lookup."""

from __future__ import annotations

from asgi_compress.http._memo import Memo
from asgi_compress.http.mediatypes import MediaTypeFilter


def test_a_memo_computes_each_key_once_while_there_is_room() -> None:
    computed: list[str] = []

    def upper(key: str) -> str:
        computed.append(key)
        return key.upper()

    memo: Memo[str, str] = Memo(8)
    assert [memo.answer(k, upper) for k in ("a", "b", "a", "b")] == ["A", "B", "A", "B"]
    assert computed == ["a", "b"]


def test_a_full_memo_starts_over_and_never_holds_more_than_its_bound() -> None:
    memo: Memo[int, int] = Memo(100)
    for key in range(1000):  # a flood of made-up values
        assert memo.keep(key, key * 2) == key * 2
        assert len(memo) <= 100
    assert memo.get(999) == 1998  # the newest is kept
    assert memo.answer(5, lambda key: -key) == -5  # an old one is computed again


def test_media_type_answers_stay_bounded_and_right_under_a_flood() -> None:
    is_compressible = MediaTypeFilter(("text/*",))
    for i in range(5000):
        assert is_compressible(f"text/x-{i}") is True
        assert is_compressible(f"image/x-{i}") is False
    assert len(is_compressible.known) <= 512
    assert is_compressible("text/html") is True
