"""The response state machine as data (asgi_compress/response/_states.py): the table of moves,
the one check every move goes through, and the responder's slots all made at construction."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import asgi_compress.response as response_package
from asgi_compress import CompressMiddleware, Settings
from asgi_compress._types import Message
from asgi_compress.response._decide import RequestView
from asgi_compress.response._responder import Responder
from asgi_compress.response._states import TRANSITIONS, State, StateMachine
from tests.harness import body, run, start

FINAL = {State.PASSING, State.DROPPING, State.DONE}


class _Machine(StateMachine):
    __slots__ = ()

    def __init__(self, state: State) -> None:
        self._state = state


def test_every_state_is_in_the_table_and_reachable_from_start() -> None:
    assert set(TRANSITIONS) == set(State)
    seen, todo = {State.START}, [State.START]
    while todo:
        for state in TRANSITIONS[todo.pop()] - seen:
            seen.add(state)
            todo.append(state)
    assert seen == set(State)


def test_every_way_ends_in_a_final_state() -> None:
    assert {state for state, moves in TRANSITIONS.items() if not moves} == FINAL
    assert all(State.START not in moves for moves in TRANSITIONS.values())


@pytest.mark.parametrize(
    ("old", "new"),
    [(old, new) for old in State for new in State if new not in TRANSITIONS[old]],
    ids=lambda state: state.name,
)
def test_a_move_the_table_does_not_list_raises_naming_both_states(old: State, new: State) -> None:
    machine = _Machine(old)
    with pytest.raises(RuntimeError, match=rf"\b{old.name} -> {new.name}\b"):
        machine._transition(new)
    assert machine._state is old


@pytest.mark.parametrize(
    ("old", "new"),
    [(old, new) for old, moves in TRANSITIONS.items() for new in moves],
    ids=lambda state: state.name,
)
def test_a_listed_move_is_made(old: State, new: State) -> None:
    machine = _Machine(old)
    machine._transition(new)
    assert machine._state is new


def test_the_state_changes_only_through_the_transition() -> None:
    # Outside the constructor and _transition itself, a `self._state = ...` would be a move
    # the table never checks.
    wrong = [
        f"{path.name}:{line} in {function}"
        for path in Path(response_package.__file__).parent.glob("*.py")
        for function, line in _state_assignments(ast.parse(path.read_text()))
        if function not in {"__init__", "_transition"}
    ]
    assert not wrong


def _state_assignments(tree: ast.Module) -> list[tuple[str, int]]:
    """(function, line) of every assignment to an attribute named ``_state``."""
    found = []
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Assign):
                    targets = node.targets
                elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                    targets = [node.target]
                else:
                    continue
                if any(isinstance(t, ast.Attribute) and t.attr == "_state" for t in targets):
                    found.append((function.name, node.lineno))
    return found


def _slots(cls: type) -> set[str]:
    return {slot for klass in cls.__mro__ for slot in getattr(klass, "__slots__", ())}


async def _noop_send(message: Message) -> None:
    pass


async def _noop_receive() -> Message:
    return {"type": "http.disconnect"}


def test_every_slot_of_the_responder_is_made_by_its_constructor() -> None:
    responder = Responder(
        _noop_send, _noop_receive, RequestView("br", "gzip"), Settings(), None, {"path": "/"}
    )
    missing = [slot for slot in sorted(_slots(Responder)) if not hasattr(responder, slot)]
    assert not missing
    assert responder._state is State.START


@pytest.mark.anyio
async def test_a_second_start_names_the_message_and_the_state() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        assert callable(send)
        await send(start(content_type="text/html"))
        await send(start())

    with pytest.raises(RuntimeError, match=r"'http\.response\.start' in response state HELD"):
        await run(CompressMiddleware(app), accept_encoding="br")


@pytest.mark.anyio
async def test_a_body_after_the_end_names_the_state() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        assert callable(send)
        await send(start(content_type="text/event-stream"))
        await send(body(b"data: 1\n\n"))
        await send(body(b"data: 2\n\n"))

    with pytest.raises(RuntimeError, match=r"'http\.response\.body' in response state DONE"):
        await run(CompressMiddleware(app), accept_encoding="br")
