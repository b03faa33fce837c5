"""The small path: bodies below ``min_size``, time added per response, in process (issue 18).

The pass-through cases of ``inprocess.py`` alone (a 67-byte JSON body with Chromium's
Accept-Encoding, and with none), ours against the peers and the bare app in the same rounds.

Run: ``python -m benchmarks small_path``.
"""

from __future__ import annotations

import anyio

from ._common import Budget, Report, write_results
from .inprocess import Row, _passthrough_table, checks, measure, passthrough_cases

__all__ = ["run"]


async def _main(budget: Budget) -> Report:
    rows: list[Row] = []
    for case in passthrough_cases()[:2]:
        rows += await measure(case, budget)
    passing = [check for check in checks([], [], rows) if "added time" in check.target]
    return Report("small_path", [_passthrough_table(rows)], passing)


def run(budget: Budget) -> Report:
    report = anyio.run(_main, budget)
    write_results("small_path", "The small path: below min_size, in process", report.tables)
    return report


if __name__ == "__main__":
    run(Budget.from_env())
