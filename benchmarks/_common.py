"""What every benchmark shares: the time budget, interleaved timing, and markdown tables.

Timing rule: contenders of one comparison are measured in the same rounds, one batch each per
round (in a fresh order each round), so a noisy neighbour slows them all alike;
each contender's figure is the median of its rounds. Batches are sized so that one takes
about ``Budget.batch_s``; the garbage collector is off while a batch runs.
"""

from __future__ import annotations

import functools
import gc
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "RESULTS",
    "Budget",
    "Check",
    "Report",
    "Table",
    "calibrate",
    "checks_table",
    "commit",
    "environment",
    "fmt",
    "median",
    "rotated",
    "rounds_within",
    "time_sync_rounds",
    "write_results",
]

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Budget:
    """How long to measure. ``quick`` trades precision for a run of about a minute."""

    quick: bool = False

    @property
    def rounds(self) -> int:
        return 5 if self.quick else 9

    @property
    def batch_s(self) -> float:
        return 0.006 if self.quick else 0.015

    @property
    def load_s(self) -> float:
        """Seconds of load per event-loop cell."""
        return 1.5 if self.quick else 3.0

    @classmethod
    def from_env(cls) -> Budget:
        return cls(quick=os.environ.get("BENCH_QUICK", "") not in ("", "0"))


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def calibrate(run_batch: Callable[[int], int], target_s: float) -> tuple[int, float]:
    """How many calls make a batch of about ``target_s``, and the ns one call took.

    ``run_batch(n)`` makes ``n`` calls and returns the ns they took. A call slower than the
    target is not warmed up twice: one call is the batch.
    """
    first = run_batch(1)  # also the warm-up: imports, caches, lazily built tables
    if first >= target_s * 1e9:
        return 1, float(first)
    n = 1
    while True:
        elapsed = run_batch(n)
        if elapsed >= target_s * 1e9 * 0.5 or n >= 1 << 20:
            return max(1, round(n * target_s * 1e9 / max(elapsed, 1))), elapsed / n
        n *= 4


def rounds_within(budget: Budget, call_ns: float, max_total_s: float) -> int:
    """Fewer rounds for a slow contender, so that it stays within ``max_total_s``."""
    return max(1, min(budget.rounds, int(max_total_s * 1e9 / max(call_ns, 1.0))))


def rotated(names: list[str], index: int) -> list[str]:
    """The round's running order: a fresh shuffle each round (seeded by the round's index).

    What ran just before can leave the allocator in a state that costs the next contender
    (large buffers to page-fault in afresh, a worker thread's arena trimmed), so no
    contender may always hold the same place or follow the same neighbour.
    """
    order = list(names)
    random.Random(index).shuffle(order)
    return order


def time_sync_rounds(
    contenders: Mapping[str, Callable[[], object]], budget: Budget, *, max_total_s: float = 1.5
) -> dict[str, float]:
    """Median ns per call of each zero-argument callable, measured in interleaved rounds."""

    def batch_runner(func: Callable[[], object]) -> Callable[[int], int]:
        def run_batch(n: int) -> int:
            start = time.perf_counter_ns()
            for _ in range(n):
                func()
            return time.perf_counter_ns() - start

        return run_batch

    runners = {name: batch_runner(func) for name, func in contenders.items()}
    sizes: dict[str, int] = {}
    rounds: dict[str, int] = {}
    for name, run in runners.items():
        sizes[name], call_ns = calibrate(run, budget.batch_s)
        rounds[name] = rounds_within(budget, call_ns * sizes[name], max_total_s)
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for index in range(budget.rounds):
            for name in rotated(list(runners), index):
                if index < rounds[name]:
                    samples[name].append(runners[name](sizes[name]) / sizes[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: median(values) for name, values in samples.items()}


def fmt(value: float | int | str | None, digits: int = 2) -> str:
    """A table cell: ints with thousands separators, floats to ``digits`` places."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    if value != value:  # NaN
        return "-"
    return f"{value:,.{digits}f}"


@dataclass
class Table:
    """A markdown table with a title and notes under it."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines.extend("| " + " | ".join(row) + " |" for row in self.rows)
        if self.notes:
            lines.append("")
            lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Check:
    """One target of the issue, as measured: ``met`` is None when it could not be judged."""

    target: str
    measured: str
    met: bool | None


@dataclass
class Report:
    """What one benchmark module hands back to ``run.py``."""

    name: str
    tables: list[Table]
    checks: list[Check] = field(default_factory=list)
    charts: dict[str, dict[str, float]] = field(default_factory=dict)
    """Optional bar charts for ``run.py``: chart title -> {bar label: value}."""


def checks_table(checks: Sequence[Check]) -> Table:
    table = Table("Targets (issue 4)", ["target", "measured", "met"])
    for check in checks:
        verdict = "n/a" if check.met is None else ("yes" if check.met else "**no**")
        table.add(check.target, check.measured, verdict)
    return table


@functools.cache
def commit(root: Path = RESULTS.parent.parent) -> str:
    """The checkout's short commit, with ``+dirty`` when it has uncommitted changes; ``unknown``
    outside git (or without it).

    Files under ``benchmarks/results/`` do not count: a full run writes them as it goes, which
    would mark every section after the first as dirty. Asked once per run.
    """

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        changes = git("status", "--porcelain", "--", ".", ":(exclude)benchmarks/results")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if changes else "")


def environment() -> str:
    """One line naming the commit, the machine and library versions, for the head of every
    result file."""
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    dists = ("starlette", "starlette-compress", "brotli-asgi", "brotli", "backports.zstd",
             "zstandard", "zlib-ng", "isal", "uvicorn", "anyio")  # fmt: skip
    versions = [f"{dist} {v}" for dist in dists if (v := version(dist)) is not None]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"commit {commit()}; Python {platform.python_version()} ({sys.implementation.name}) "
        f"on {platform.machine()}, {cpus} CPUs, {time.strftime('%Y-%m-%d %H:%M')}; "
        + ", ".join(versions)
    )


def write_results(name: str, title: str, tables: Sequence[Table], preamble: str = "") -> Path:
    """Print the tables and write them to ``benchmarks/results/<name>.md``."""
    RESULTS.mkdir(exist_ok=True)
    text = f"## {title}\n\n_{environment()}_\n\n"
    if preamble:
        text += preamble.rstrip() + "\n\n"
    text += "\n".join(table.markdown() for table in tables)
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    print(text, flush=True)
    return path
