"""What every command shares: its directory argument checked, and a library error turned into
the exit message ``COMMAND: error`` (a message, not a traceback)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["or_exit", "require_directory"]

T = TypeVar("T")


def require_directory(command: str, directory: str) -> None:
    """Exit with ``COMMAND: 'DIR' is not a directory`` unless it is one."""
    if not Path(directory).is_dir():
        raise SystemExit(f"{command}: {directory!r} is not a directory")


def or_exit(command: str, work: Callable[[], T]) -> T:
    """``work()``'s result; a ``TypeError`` or ``ValueError`` it raises (a bad option) exits
    with ``COMMAND: message``."""
    try:
        return work()
    except (TypeError, ValueError) as error:
        raise SystemExit(f"{command}: {error}") from error
