"""One name per benchmark section: ``python -m benchmarks NAME`` runs ``benchmarks/NAME.py``,
which writes ``benchmarks/results/NAME.md``; ``--list`` names every section; every result
file's stamp carries the commit. Nothing here runs a benchmark."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._common import RESULTS, commit
from benchmarks.run import SECTIONS, main

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
STANDALONE = {"run", "payloads", "soak", "soak_app", "request_bombs"}
"""Public modules that are not sections: the runner, the payloads every section shares, and
tools run as ``python -m benchmarks.<name>`` (the soak run and its app, the bomb server)."""


def _source(name: str) -> str:
    return (BENCHMARKS / f"{name}.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", SECTIONS)
def test_each_section_is_its_module_and_writes_its_results_file(name: str) -> None:
    source = _source(name)
    assert re.findall(r'write_results\(\s*"(\w+)"', source) == [name]
    assert "def run(budget" in source


def test_every_public_module_is_a_section_or_a_named_tool() -> None:
    public = {p.stem for p in BENCHMARKS.glob("*.py") if not p.stem.startswith("_")}
    assert public - STANDALONE == set(SECTIONS)
    assert len(SECTIONS) == len(set(SECTIONS))


def test_every_results_file_belongs_to_a_section() -> None:
    files = {p.stem for p in RESULTS.glob("*.md")}
    assert files - {"summary", "request_bombs"} <= set(SECTIONS)


def test_list_names_every_section_with_its_summary_and_runs_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    loaded = {name for name in sys.modules if name.startswith("benchmarks.")}
    assert main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(SECTIONS)
    for name, line in zip(SECTIONS, lines, strict=True):
        first = (ast.get_docstring(ast.parse(_source(name))) or "").splitlines()[0]
        assert line.split(None, 1)[1] == first
    imported = {name for name in sys.modules if name.startswith("benchmarks.")} - loaded
    assert not imported & {f"benchmarks.{name}" for name in SECTIONS}


def test_an_old_group_name_is_refused_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["streams"]) == 2
    assert "unknown section: streams" in capsys.readouterr().err


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_the_stamp_names_the_commit_and_a_dirty_tree(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "one")
    head = _git(tmp_path, "rev-parse", "--short", "HEAD")
    commit.cache_clear()
    assert commit(tmp_path) == head
    (tmp_path / "benchmarks" / "results" / "codecs.md").write_text("a run's output\n")
    commit.cache_clear()
    assert commit(tmp_path) == head  # results written by the run itself do not count
    (tmp_path / "app.py").write_text("x = 2\n")
    commit.cache_clear()
    assert commit(tmp_path) == head + "+dirty"
    commit.cache_clear()


def test_the_stamp_says_unknown_outside_git(tmp_path: Path) -> None:
    commit.cache_clear()
    assert commit(tmp_path) == "unknown"
    commit.cache_clear()
