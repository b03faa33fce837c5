"""The states of one response and every move between them, as data.

Theory of operation
-------------------
As in h11's ``_state.py``: the states are named here, :data:`TRANSITIONS` lists every move a
response may make, and :meth:`StateMachine._transition` is the one way a responder changes
state. A move the table does not list is a bug of ours, and raises ``RuntimeError`` naming
both states; a message that cannot happen in a state is the app's, and
:meth:`StateMachine._unexpected` names the message and the state::

    START ──> PASSING     decided from the head: pass (reason kept for the report)
          ──> STREAMING   an event stream: encoded head at once, every event flushed
          ──> HEAD_ONLY   a HEAD whose GET would be encoded: encoded head, no body
          ──> HELD        head held until the body decides
          ──> DROPPING    our 304/412 answered the request's preconditions

    HELD  ──> DONE / FINISHING   a whole body answered (FINISHING: the app's empty final
                                 message is still to come), or a sibling sent
          ──> STREAMING          the body turned out to be a stream
          ──> HEAD_ONLY          a HEAD held like its GET: that head, no body
          ──> PASSING            unencoded: not accepted, too small, not smaller...
          ──> DROPPING           our 304/412 answered first
          ──> DONE               the client has gone

    STREAMING, HEAD_ONLY, FINISHING ──> DONE      the body ended

PASSING, DROPPING and DONE are final: a passing response is the app's own from there on,
a dropping one ignores the app's remaining messages, a done one accepts only what may
follow a body (trailers, unknown types).
"""

from __future__ import annotations

import enum

__all__ = ["TRANSITIONS", "State", "StateMachine"]


class State(enum.Enum):
    # Enum's own __hash__ runs in Python (hundreds of ns); a state equals only itself, so
    # the identity hash is the same relation, and keeps each table check in C.
    __hash__ = object.__hash__

    START = "START"
    HELD = "HELD"
    STREAMING = "STREAMING"
    HEAD_ONLY = "HEAD_ONLY"
    PASSING = "PASSING"
    FINISHING = "FINISHING"
    DROPPING = "DROPPING"
    DONE = "DONE"


_START, _HELD, _STREAMING, _HEAD_ONLY, _PASSING, _FINISHING, _DROPPING, _DONE = State

TRANSITIONS: dict[State, frozenset[State]] = {
    _START: frozenset((_PASSING, _STREAMING, _HEAD_ONLY, _HELD, _DROPPING)),
    _HELD: frozenset((_DONE, _FINISHING, _STREAMING, _HEAD_ONLY, _PASSING, _DROPPING)),
    _STREAMING: frozenset((_DONE,)),
    _HEAD_ONLY: frozenset((_DONE,)),
    _FINISHING: frozenset((_DONE,)),
    _PASSING: frozenset(),
    _DROPPING: frozenset(),
    _DONE: frozenset(),
}
"""Every state a response may move to from each state: the whole machine at a glance."""


class StateMachine:
    """The state of one response; its subclasses change it only through :meth:`_transition`.

    ``_state`` is created by the responder's ``__init__`` (``START``), as every slot is.
    """

    __slots__ = ("_state",)

    _state: State

    def _transition(self, new: State) -> None:
        """Move to ``new``, which :data:`TRANSITIONS` must allow from the current state."""
        if new not in TRANSITIONS[self._state]:
            raise RuntimeError(
                f"illegal response state transition {self._state.name} -> {new.name}"
            )
        self._state = new

    def _unexpected(self, kind: str) -> RuntimeError:
        return RuntimeError(
            f"unexpected ASGI message {kind!r} in response state {self._state.name}"
        )
