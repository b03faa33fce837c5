"""Write docs/reference/options.md from the code: every option, every ``COMPRESS_*`` key.

The code is the one list. The middleware's keyword options are the fields of
:class:`asgi_compress.settings.Settings` (``COMPRESS_<OPTION>`` in the Quart extension), its
constructor-only arguments are the keyword parameters of ``CompressMiddleware.__init__``, and
the extension's own keys are the fields of ``ExtensionSettings``. Defaults are read from the
objects themselves; each meaning is the entry of that name in the class docstring's
``Attributes:`` or ``Args:`` section (Google style), so a new option documents itself where
it is declared. An option without an entry stops the script.

Usage::

    python docs/gen_options.py          # rewrite docs/reference/options.md
    python docs/gen_options.py --check  # exit 1 if the committed file is stale

tests/test_docs_reference.py runs the check in the test suite.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asgi_compress.middleware import CompressMiddleware
from asgi_compress.quart._config import (
    EXTENSION_DEFAULTS,
    LIVE_CONFIG_KEYS,
    ExtensionSettings,
    config_defaults,
)
from asgi_compress.settings import DEFAULT_MIMETYPES, FLASK_COMPRESS_MIMETYPES, Settings, config_key

__all__ = ["OUTPUT", "constructor_options", "doc_entries", "main", "render", "setting_options"]

OUTPUT = Path(__file__).resolve().parent / "reference" / "options.md"

# Long defaults shown by the name a user would import.
_NAMED = {
    tuple(DEFAULT_MIMETYPES): f"`DEFAULT_MIMETYPES` ({len(DEFAULT_MIMETYPES)} patterns)",
    tuple(FLASK_COMPRESS_MIMETYPES): (
        f"`FLASK_COMPRESS_MIMETYPES` ({len(FLASK_COMPRESS_MIMETYPES)} types)"
    ),
}

_ENTRY = re.compile(r"^    (\*{0,2}\w+)(?: \([^)]*\))?: (.*)$")
_ROLE = re.compile(r":(?:class|func|data|meth|mod|attr):`~?([\w.]+)`")


def doc_entries(obj: object, section: str) -> dict[str, str]:
    """The ``name: text`` entries of a Google-style docstring section, as Markdown."""
    lines = (inspect.getdoc(obj) or "").splitlines()
    if f"{section}:" not in lines:
        return {}
    entries: dict[str, str] = {}
    name = ""
    for line in lines[lines.index(f"{section}:") + 1 :]:
        if line and not line.startswith(" "):
            break
        if match := _ENTRY.match(line):
            name = match[1]
            entries[name] = match[2]
        elif name and line.strip():
            entries[name] += " " + line.strip()
    return {key: _markdown(text) for key, text in entries.items()}


def _markdown(text: str) -> str:
    def short(match: re.Match[str]) -> str:
        whole = match[0]
        return f"`{match[1].rsplit('.', 1)[-1] if '~' in whole else match[1]}`"

    return _ROLE.sub(short, text).replace("``", "`").replace("|", "\\|")


def _value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (tuple, list)):
        if tuple(value) in _NAMED:
            return _NAMED[tuple(value)]
        return "`[" + ", ".join(f'"{item}"' for item in value) + "]`"
    if isinstance(value, float):
        return f"`{value!r}`"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1024:
        for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
            if value % size == 0:
                return f"`{value}` ({value // size} {unit})"
    return f"`{value!r}`"


def _need(entries: Mapping[str, str], name: str, where: str) -> str:
    if not entries.get(name):
        raise SystemExit(f"{name} has no entry in {where}'s docstring: add one there")
    return entries[name]


def setting_options() -> list[str]:
    """The middleware's keyword options: the init fields of ``Settings``."""
    return [f.name for f in dataclasses.fields(Settings) if f.init]


def constructor_options() -> list[str]:
    """``CompressMiddleware``'s own keyword-only arguments (not ``COMPRESS_*`` settings)."""
    parameters = inspect.signature(CompressMiddleware.__init__).parameters.values()
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]


def _settings_table() -> list[str]:
    entries = doc_entries(Settings, "Attributes")
    ours, quart = Settings(), Settings.from_config({})
    rows = [
        "| option | Quart key | default | meaning |",
        "|---|---|---|---|",
    ]
    declared = {f.name: f.default for f in dataclasses.fields(Settings)}
    for name in setting_options():
        default = _value(declared[name])
        if getattr(quart, name) != getattr(ours, name):
            default += f"; Quart: {_value(config_defaults()[config_key(name)])}"
        key = f"`{config_key(name)}`"
        if config_key(name) in LIVE_CONFIG_KEYS:
            key += " (live)"
        text = _need(entries, name, "Settings")
        rows.append(f"| `{name}` | {key} | {default} | {text} |")
    return rows


def _constructor_table() -> list[str]:
    entries = doc_entries(CompressMiddleware, "Args")
    parameters = inspect.signature(CompressMiddleware.__init__).parameters
    rows = ["| argument | default | meaning |", "|---|---|---|"]
    for name in constructor_options():
        default = _value(parameters[name].default)
        text = _need(entries, name, "CompressMiddleware")
        rows.append(f"| `{name}` | {default} | {text} |")
    return rows


def _extension_table() -> list[str]:
    entries = doc_entries(ExtensionSettings, "Attributes")
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(ExtensionSettings):
        key = config_key(f.name)
        default = _value(EXTENSION_DEFAULTS[key])
        text = _need(entries, f.name, "ExtensionSettings")
        rows.append(f"| `{key}` | {default} | {text} |")
    return rows


def render() -> str:
    """The whole page, as it should be committed."""
    parts = [
        "# Options reference",
        "",
        "<!-- Generated by docs/gen_options.py from the code; do not edit by hand. -->",
        "",
        "Generated from the code (`python docs/gen_options.py`): the fields of",
        "`asgi_compress.settings.Settings`, the keyword arguments of `CompressMiddleware`",
        "and the fields of the Quart extension's `ExtensionSettings`, each with the text of",
        "its docstring entry. `tests/test_docs_reference.py` fails when this page is stale.",
        "",
        "A bad value fails when the middleware is built (or at `init_app`), with a",
        "`TypeError` or `ValueError` that names the option or key.",
        "",
        "## Middleware options and `COMPRESS_*` keys",
        "",
        "Keyword options of `CompressMiddleware(app, **options)`, also accepted by",
        "`Settings(...)`. The Quart extension reads each from `app.config` under its key,",
        "with Flask-Compress's default where the two differ (the `Quart:` default). Keys",
        "marked *live* may be changed in `app.config` after `init_app` and apply from the",
        "next request; the others are read once, at `init_app`.",
        "",
        *_settings_table(),
        "",
        "## `CompressMiddleware` only",
        "",
        "Constructor arguments that hold live objects (a cache, dictionaries), not settings:",
        "they have no `COMPRESS_*` key. See [Caching](../guides/caching.md) and",
        "[Compression dictionaries](../guides/dictionaries.md).",
        "",
        *_constructor_table(),
        "",
        "## Quart extension only",
        "",
        "Keys only `asgi_compress.Compress` reads; their defaults are Flask-Compress 1.25's.",
        "An unknown `COMPRESS_*` key logs a warning naming the closest one.",
        "",
        *_extension_table(),
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    """Write the page, or with ``--check`` report whether the committed one is current."""
    text = render()
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run python docs/gen_options.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
