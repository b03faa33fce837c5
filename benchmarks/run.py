"""Run the benchmarks, print markdown tables and write them to ``benchmarks/results/``.

Usage::

    python -m benchmarks                      # everything, about 5 minutes on 2 cores
    python -m benchmarks inprocess eventloop  # a subset, in the order given
    python -m benchmarks --quick              # shorter rounds, about 1.5 minutes
    python -m benchmarks streams              # streamping + departed only (issue 8)
    python -m benchmarks streams_flush        # coalesced streams, token latency (issue 10)

Sections: ``codecs`` (raw codecs), ``inprocess`` (middleware vs raw vs peers, no network),
``eventloop`` (uvicorn under load), ``memory``, ``offload`` (the thread_min_size sweep) and
``profile`` (cProfile / pyinstrument of the hot path), ``streamping`` (ping latency while
clients pull never-awaiting streams), ``departed`` (CPU spent on clients that left) and
``streams_flush`` (a CSV export's ratio against its whole body, token latency and headers on
time under uvicorn, the ``flush_delay`` sweep) and ``stream_memory`` (RSS per open idle event
stream under uvicorn, and per live encoder in process) and ``hot_cache`` (the default cache's
memory at its bound, a repeated body with and without it).
Each writes ``results/<section>.md``;
a full run ends with ``results/summary.md``: the issue's targets, met or not, and a chart
(``results/summary.png``) when matplotlib is installed (a subset prints its targets only).
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from ._common import RESULTS, Budget, Report, checks_table, environment

__all__ = ["SECTIONS", "main"]


def _section(module: str) -> Callable[[Budget], Report]:
    def run(budget: Budget) -> Report:
        report: Report = importlib.import_module(f"benchmarks.{module}").run(budget)
        return report

    return run


SECTIONS: dict[str, Callable[[Budget], Report]] = {
    "codecs": _section("codecs"),
    "inprocess": _section("inprocess"),
    "eventloop": _section("eventloop"),
    "memory": _section("memory"),
    "offload": _section("offload"),
    "profile": _section("profiling"),
    "streamping": _section("streamping"),
    "departed": _section("departed"),
    "cache": _section("cache"),
    "dictionaries": _section("dictionaries"),
    "streams_flush": _section("streams"),
    "stream_memory": _section("stream_memory"),
    "hot_cache": _section("hot_cache"),
    "mix": _section("mix"),
    "small_path": _section("small_path"),
    "eventloop_zstd": _section("eventloop_zstd"),
}
GROUPS: dict[str, tuple[str, ...]] = {"streams": ("streamping", "departed")}
"""Names that stand for several sections: ``python -m benchmarks streams``."""


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
    names = [a for a in args if a != "--quick"] or list(SECTIONS)
    names = [section for name in names for section in GROUPS.get(name, (name,))]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown or "-h" in args or "--help" in args:
        print(__doc__)
        return 2 if unknown else 0
    budget = Budget(quick=quick)
    reports: list[Report] = []
    timings: list[tuple[str, float]] = []
    began = time.perf_counter()
    for name in names:
        print(f"\n== {name} ==", file=sys.stderr, flush=True)
        started = time.perf_counter()
        reports.append(SECTIONS[name](budget))
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
