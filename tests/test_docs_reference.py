"""The docs that must not drift: the generated options reference, and the short README.

docs/reference/options.md is written by docs/gen_options.py. One test fails when the committed
page differs from what the script writes today (an option added, a default or a docstring
changed); another checks it against lists taken independently of the script, so an option the
script failed to pick up (a new kind of declaration) is caught too. The README is the wheel's
long description: it stays under 8 KB, keeps the commands CI and contributors rely on, and
links only to files that exist. The Varnish page shows the very VCL interop/test_proxies.py runs.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
from types import ModuleType

import pytest

from asgi_compress.middleware import CompressMiddleware
from asgi_compress.quart._config import config_defaults
from asgi_compress.settings import Options
from tests.harness import REPO

DOCS = REPO / "docs"
REFERENCE = DOCS / "reference" / "options.md"
README = REPO / "README.md"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_options", DOCS / "gen_options.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_options_reference_is_what_the_code_generates() -> None:
    committed = REFERENCE.read_text(encoding="utf-8")
    assert committed == load_generator().render(), (
        "docs/reference/options.md is stale: run python docs/gen_options.py"
    )


def _documented_names() -> list[str]:
    keyword_only = [
        name
        for name, parameter in inspect.signature(CompressMiddleware).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    return sorted({*Options.__annotations__, *keyword_only, *config_defaults()})


@pytest.mark.parametrize("name", _documented_names())
def test_options_reference_has_a_row_for(name: str) -> None:
    rows = [line for line in REFERENCE.read_text(encoding="utf-8").splitlines() if "|" in line]
    row = next((line for line in rows if f"`{name}`" in line), None)
    assert row is not None, f"docs/reference/options.md has no row for {name}"
    meaning = row.rstrip(" |").rsplit(" | ", 1)[-1]
    assert len(meaning.split()) >= 3, f"{name}'s row says too little: {row}"


@pytest.mark.parametrize(
    "name", ["decompress_requests", "COMPRESS_FLUSH_DELAY", "COMPRESS_DECOMPRESS_REQUESTS"]
)
def test_options_reference_has_the_keys_the_old_tables_missed(name: str) -> None:
    assert f"`{name}`" in REFERENCE.read_text(encoding="utf-8")


def test_generator_refuses_an_option_without_a_docstring_entry() -> None:
    generator = load_generator()
    entries = generator.doc_entries(CompressMiddleware, "Args")
    assert "dcz_level" in entries
    assert "docs/reference/options.md" in entries["**options"]  # continuation lines joined
    with pytest.raises(SystemExit, match="no_such_option has no entry"):
        generator._need(entries, "no_such_option", "CompressMiddleware")


def test_readme_stays_short() -> None:
    assert README.stat().st_size <= 8 * 1024


@pytest.mark.parametrize(
    "command",
    [
        "pip install -e '.[starlette]' && uvicorn examples.starlette_app:app",
        "pip install -e '.[test]' && python -m pytest",
        'python -m pytest -m "not interop and not soak"',
    ],
    ids=["example", "tests", "quick-loop"],
)
def test_readme_keeps_the_command(command: str) -> None:
    assert command in README.read_text(encoding="utf-8")


def test_readme_links_point_at_files_in_the_repo() -> None:
    targets = re.findall(r"\]\(([^)#]+)[^)]*\)", README.read_text(encoding="utf-8"))
    local = [target for target in targets if "://" not in target]
    assert local, "the README links to the docs"
    assert [target for target in local if not (REPO / target).is_file()] == []


def test_varnish_page_shows_the_vcl_the_proxy_tests_run() -> None:
    from tests.interop.test_proxies import VCL_ACCEPT_ENCODING

    tested = VCL_ACCEPT_ENCODING[VCL_ACCEPT_ENCODING.index("sub vcl_recv") :]
    tested = tested[: tested.index("\n}\n") + 2]
    page = (DOCS / "deployment" / "varnish.md").read_text(encoding="utf-8")
    assert f"```vcl\n{tested}\n```" in page
