"""zstd under load (issue 18): ``eventloop.py``'s K = 4 cells for zstd, ours with ``cache=None``.

Run: ``python -m benchmarks eventloop_zstd``.
"""

from __future__ import annotations

from ._common import Budget, Report
from .eventloop import run_zstd

__all__ = ["run"]


def run(budget: Budget) -> Report:
    return run_zstd(budget)


if __name__ == "__main__":
    run(Budget.from_env())
