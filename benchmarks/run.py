"""Run the benchmarks, print markdown tables and write them to ``benchmarks/results/``.

Usage::

    python -m benchmarks                      # everything, about 5 minutes on 2 cores
    python -m benchmarks inprocess eventloop  # a subset, in the order given
    python -m benchmarks --quick              # shorter rounds, about 1.5 minutes
    python -m benchmarks --list               # each section and what it measures

Each section NAME is the module ``benchmarks/NAME.py`` and writes ``results/NAME.md``
(``--list`` names them all, with the first line of each module's docstring);
a full run ends with ``results/summary.md``: the issue's targets, met or not, and a chart
(``results/summary.png``) when matplotlib is installed (a subset prints its targets only).
"""

from __future__ import annotations

import ast
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._common import RESULTS, Budget, Report, checks_table, environment

__all__ = ["SECTIONS", "main", "run_section", "summary"]


SECTIONS: tuple[str, ...] = (
    "codecs",
    "inprocess",
    "eventloop",
    "memory",
    "offload",
    "profiling",
    "streamping",
    "departed",
    "cache",
    "dictionaries",
    "streams_flush",
    "stream_memory",
    "hot_cache",
    "mix",
    "small_path",
    "eventloop_zstd",
)
"""Every section, in the order of a full run: ``benchmarks/NAME.py``, ``results/NAME.md``."""


def run_section(name: str, budget: Budget) -> Report:
    """Run one section's ``run(budget)``: it prints its tables and writes its results file."""
    report: Report = importlib.import_module(f"benchmarks.{name}").run(budget)
    return report


def summary(name: str) -> str:
    """A section's one-line summary: the first line of its module's docstring.

    Read from the source, not imported: ``--list`` runs nothing and loads no peer library.
    """
    tree = ast.parse((Path(__file__).parent / f"{name}.py").read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree) or ""
    return doc.splitlines()[0] if doc else ""


def _chart(reports: Sequence[Report]) -> str | None:
    """Draw every report's bar charts into results/summary.png, if matplotlib is there."""
    charts = [(title, bars) for report in reports for title, bars in report.charts.items()]
    if not charts:
        return None
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
    except ImportError:
        return None
    matplotlib.use("Agg")
    pyplot: Any = importlib.import_module("matplotlib.pyplot")
    figure, axes = pyplot.subplots(len(charts), 1, figsize=(9, 3 + 2.2 * len(charts)))
    if len(charts) == 1:
        axes = [axes]
    for axis, (title, bars) in zip(axes, charts, strict=True):
        labels = list(bars)
        axis.barh(labels, [bars[label] for label in labels], color="#4878a8")
        axis.set_title(title, fontsize=10)
        axis.invert_yaxis()
        axis.tick_params(labelsize=8)
    figure.tight_layout()
    path = RESULTS / "summary.png"
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path.name


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in args or Budget.from_env().quick
    if "--list" in args:
        for name in SECTIONS:
            print(f"{name:<15} {summary(name)}")
        return 0
    names = [a for a in args if a != "--quick"] or list(SECTIONS)
    unknown = [name for name in names if name not in SECTIONS]
    if unknown or "-h" in args or "--help" in args:
        print(__doc__)
        if unknown:
            print(f"unknown section: {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2 if unknown else 0
    budget = Budget(quick=quick)
    reports: list[Report] = []
    timings: list[tuple[str, float]] = []
    began = time.perf_counter()
    for name in names:
        print(f"\n== {name} ==", file=sys.stderr, flush=True)
        started = time.perf_counter()
        reports.append(run_section(name, budget))
        timings.append((name, time.perf_counter() - started))
    total = time.perf_counter() - began
    checks = [check for report in reports for check in report.checks]
    text = f"## Benchmark summary\n\n_{environment()}_\n\n"
    if checks:
        text += checks_table(checks).markdown() + "\n"
    text += "Sections: " + ", ".join(
        f"[{name}]({name}.md) ({seconds:.0f} s)" for name, seconds in timings
    )
    text += f"; total {total:.0f} s{' (--quick)' if quick else ''}.\n"
    if set(names) == set(SECTIONS):  # a subset leaves the last full run's summary alone
        RESULTS.mkdir(exist_ok=True)
        chart = _chart(reports)
        if chart:
            text += f"\n![summary]({chart})\n"
        (RESULTS / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
