"""zstd under load (issue 18): ``eventloop.py``'s K = 4 cells for zstd, ours with ``cache=None``.

Run: ``python -m benchmarks eventloop_zstd``.
"""

from __future__ import annotations

from ._common import Budget, Report, write_results
from .eventloop import run_zstd

__all__ = ["run"]


def run(budget: Budget) -> Report:
    """Measure, print and write ``results/eventloop_zstd.md``."""
    report = run_zstd(budget)
    title = "zstd under load, no cache (uvicorn on 127.0.0.1)"
    write_results("eventloop_zstd", title, report.tables)
    return report


if __name__ == "__main__":
    run(Budget.from_env())
