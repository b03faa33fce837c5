"""The package's shape: the names it exports, the imports its docs show, and which folder
may import which (the file list is the architecture; this keeps it true).

The direction table is data: a module of one folder may import only the folders its row
names. A new import across folders fails here until the table says it is meant.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

import pytest

import asgi_compress
from tests.harness import REPO

PACKAGE = REPO / "asgi_compress"

# `asgi_compress.__all__` as of the layout by feature (issue 17); Compress only with Quart.
EXPORTED = {
    "DEFAULT_MIMETYPES",
    "FLASK_COMPRESS_MIMETYPES",
    "CacheBackend",
    "CompressMiddleware",
    "CompressionReport",
    "DictCache",
    "DirectoryCache",
    "PassReason",
    "RedisCache",
    "ReportHook",
    "ResponseCache",
    "ResponsePolicy",
    "Settings",
    "__version__",
    "cacheable",
    "skip_compression",
}


def test_exports_exactly_the_public_names() -> None:
    expected = EXPORTED | ({"Compress"} if find_spec("quart") is not None else set())
    assert set(asgi_compress.__all__) == expected
    assert len(asgi_compress.__all__) == len(expected), "a name is listed twice"


@pytest.mark.parametrize("name", sorted(asgi_compress.__all__))
def test_every_exported_name_imports(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from asgi_compress import {name}", namespace)
    assert namespace[name] is getattr(asgi_compress, name)


def _documented_imports() -> Iterator[tuple[str, str, str]]:
    """(where, module, name) for each ``from asgi_compress... import name`` users are shown."""
    sources = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    sources += sorted((REPO / "examples").rglob("*.py"))
    pattern = re.compile(r"^\s*from (asgi_compress(?:\.\w+)*) import ([\w, ]+)", re.MULTILINE)
    for source in sources:
        if source.name == "changelog.md":
            continue  # history: it names paths as they were
        for match in pattern.finditer(source.read_text(encoding="utf-8")):
            for name in filter(None, (part.strip() for part in match.group(2).split(","))):
                yield str(source.relative_to(REPO)), match.group(1), name


@pytest.mark.parametrize(
    ("where", "module", "name"),
    [pytest.param(*entry, id=f"{entry[1]}:{entry[2]}") for entry in set(_documented_imports())],
)
def test_every_import_the_docs_show_works(where: str, module: str, name: str) -> None:
    if name == "Compress" and find_spec("quart") is None:
        pytest.skip("the Quart extension needs the [quart] extra")
    assert hasattr(importlib.import_module(module), name), f"{where}: {module}.{name}"


def test_the_docs_show_imports_at_all() -> None:
    # The test above must not pass by finding nothing.
    modules = {module for _, module, _ in _documented_imports()}
    assert {"asgi_compress", "asgi_compress.settings", "asgi_compress.dictionaries"} <= modules


# --- import direction --------------------------------------------------------------------------

# Folder (or top-level module) -> the folders and top-level modules of ours it may import.
# Anything of ours not in a row is forbidden for that row; a module in no row fails.
ALLOWED: dict[str, frozenset[str]] = {
    # Pure HTTP. `_types` holds the ASGI type aliases only (no code, imports nothing of ours):
    # the header helpers are typed with `Headers`, `exclude_paths` with `Scope`.
    "http": frozenset({"_types"}),
    "_types": frozenset(),
    "codecs": frozenset({"http", "_types"}),
    "report": frozenset(),
    "_validation": frozenset({"codecs", "http"}),
    "settings": frozenset({"_validation", "codecs", "http", "report"}),
    # Static files ahead of time: the walk both sibling writer and cache warm-up use.
    "static": frozenset({"settings"}),
    "cache": frozenset({"codecs", "settings", "static"}),
    "policy": frozenset({"_types", "cache", "settings"}),
    "requests": frozenset({"_types", "codecs", "settings"}),
    "dictionaries": frozenset({"_types", "cache", "codecs", "http"}),
    "response": frozenset(
        {
            "_types",
            "cache",
            "codecs",
            "dictionaries",
            "http",
            "policy",
            "report",
            "settings",
            "static",
        }
    ),
    # What a request asks of us, read from its head once, and the scope its app gets.
    "_request_head": frozenset({"_types", "dictionaries", "http", "response"}),
    "middleware": frozenset(
        {
            "_request_head",
            "_types",
            "cache",
            "dictionaries",
            "http",
            "policy",
            "requests",
            "response",
            "settings",
        }
    ),
    # The Quart face sits on top: it builds a middleware; nothing below knows of Quart.
    "quart": frozenset({"_types", "_validation", "cache", "middleware", "policy", "settings"}),
    "cli": frozenset({"cache", "dictionaries", "static"}),
    "__main__": frozenset({"cli"}),
    "__init__": frozenset({"cache", "http", "middleware", "policy", "quart", "report", "settings"}),
}
# (importer, imported) pairs that are allowed only inside a function or `if TYPE_CHECKING:`,
# so that `import asgi_compress` works without the optional dependency behind them.
LAZY_ONLY = {("__init__", "quart")}


def _unit(module: str) -> str:
    """``asgi_compress.response._decide`` -> ``response``; the package itself -> ``__init__``."""
    parts = module.split(".")[1:]
    return parts[0] if parts else "__init__"


def _modules() -> Iterator[tuple[str, bool, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        yield ".".join(parts[:-1] if is_package else parts), is_package, path


def _imports(path: Path, module: str, is_package: bool) -> Iterator[tuple[str, bool]]:
    """(imported module, lazily) for each import in one file; relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST, lazy: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, lazy
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    target = child.module or ""
                if target == "asgi_compress":  # `from . import x`: x may be a module
                    for alias in child.names:
                        yield f"{target}.{alias.name}", lazy
                else:
                    yield target, lazy
            else:
                guarded = isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
                inner = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) or guarded
                yield from visit(child, lazy or inner)

    yield from visit(ast.parse(path.read_text(encoding="utf-8")), False)


def _edges() -> Iterator[tuple[str, str, str, bool]]:
    """(module, its unit, imported unit, lazily) for each import of ours across units."""
    for module, is_package, path in _modules():
        for target, lazy in _imports(path, module, is_package):
            ours = target == "asgi_compress" or target.startswith("asgi_compress.")
            if ours and _unit(target) != _unit(module):
                yield module, _unit(module), _unit(target), lazy


def test_every_folder_has_a_row() -> None:
    units = {_unit(module) for module, _, _ in _modules()}
    assert units == set(ALLOWED)


def test_imports_follow_the_direction_table() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, unit, target, lazy in _edges()
        if target not in ALLOWED[unit] or ((unit, target) in LAZY_ONLY and not lazy)
    ]
    assert not wrong


def test_the_table_has_the_layering_we_mean() -> None:
    # The rules of issue 17, checked on the table so it cannot be widened by accident.
    assert ALLOWED["http"] <= {"_types"}
    assert ALLOWED["codecs"] <= {"http", "_types"}
    assert [unit for unit, allowed in ALLOWED.items() if "quart" in allowed] == ["__init__"]
    for unit in ("cache", "dictionaries", "requests", "response", "static"):
        assert not ALLOWED[unit] & {"quart", "cli", "__main__", "middleware"}, unit


def test_http_imports_only_the_standard_library() -> None:
    third_party = [
        f"{module} imports {target}"
        for module, is_package, path in _modules()
        if _unit(module) == "http"
        for target, _ in _imports(path, module, is_package)
        if not target.startswith("asgi_compress")
        and target.partition(".")[0] not in sys.stdlib_module_names
    ]
    assert not third_party
