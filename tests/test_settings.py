"""The COMPRESS_* table: Flask-Compress 1.25's defaults, validation, and both spellings."""

from __future__ import annotations

import random
import re
import sys
import zlib
from typing import Any

import brotli
import pytest

import asgi_compress
from asgi_compress import DEFAULT_MIMETYPES, FLASK_COMPRESS_MIMETYPES, CompressMiddleware, Settings
from asgi_compress._types import Receive, Scope, Send
from asgi_compress.quart._config import config_defaults
from asgi_compress.settings import config_key, options_from_config
from tests.harness.mediatypes import ALREADY_COMPRESSED, NEWLY_COMPRESSED
from tests.harness.mediatypes import FLASK_COMPRESS_MIMETYPES as FLASK_COMPRESS_MIMETYPES_TYPED_OUT

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd


FLASK_COMPRESS_DEFAULTS: dict[str, Any] = {
    "level": 6,
    "deflate_level": -1,
    "br_level": 4,
    "br_mode": 0,
    "br_window": 22,
    "br_block": 0,
    "zstd_level": 3,
    "min_size": 500,
    "streams": True,
    "algorithm": ("zstd", "br", "gzip", "deflate"),
}

# option -> (lowest accepted, highest accepted or None if unbounded)
RANGES: dict[str, tuple[int, int | None]] = {
    "level": (-1, 9),
    "deflate_level": (-1, 9),
    "br_level": (0, 11),
    "br_mode": (0, 2),
    "br_window": (10, 24),
    "br_block": (16, 24),  # plus 0, tested on its own
    "zstd_level": (-131072, 22),
    "min_size": (0, None),
    "thread_min_size": (0, None),
}
INT_OPTIONS = tuple(RANGES)


def prose(words: int, seed: int = 0) -> bytes:
    """Text-like bytes from a random vocabulary: better levels really do compress it better."""
    rng = random.Random(seed)
    letters = b"abcdefghijklmnopqrstuvwxyz"
    vocabulary = [bytes(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(3000)]
    return b" ".join(rng.choices(vocabulary, k=words))


def from_options(**options: Any) -> Settings:
    """Call the typed entry point with deliberately wrong values."""
    return Settings.from_options(**options)


async def hello_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("never called: construction fails first")


# --- defaults ---------------------------------------------------------------------------


def test_defaults_equal_flask_compress() -> None:
    for settings in (Settings.from_options(), Settings.from_config({}), Settings()):
        for option, value in FLASK_COMPRESS_DEFAULTS.items():
            assert getattr(settings, option) == value, option


def test_default_streaming_algorithms_equal_algorithm() -> None:
    # Deliberate difference: Flask-Compress leaves gzip out of its streaming default.
    assert Settings.from_options().algorithm_streaming == ("zstd", "br", "gzip", "deflate")


def test_middleware_defaults_differ_from_flask_compress_in_types_and_statuses_only() -> None:
    middleware, flask = Settings.from_options(), Settings.from_config({})
    assert middleware == Settings()
    assert (middleware.mimetypes, middleware.success_only) == (DEFAULT_MIMETYPES, False)
    assert (flask.mimetypes, flask.success_only) == (FLASK_COMPRESS_MIMETYPES, True)
    assert len(FLASK_COMPRESS_MIMETYPES) == 26
    assert config_defaults()["COMPRESS_MIMETYPES"] == list(FLASK_COMPRESS_MIMETYPES)
    assert config_defaults()["COMPRESS_SUCCESS_ONLY"] is True


def test_public_mimetype_lists_are_the_documented_ones() -> None:
    assert asgi_compress.FLASK_COMPRESS_MIMETYPES == FLASK_COMPRESS_MIMETYPES_TYPED_OUT
    assert Settings().mimetypes == asgi_compress.DEFAULT_MIMETYPES


@pytest.mark.parametrize("media_type", [*FLASK_COMPRESS_MIMETYPES, *NEWLY_COMPRESSED])
def test_default_mimetypes_compress_text_and_uncompressed_binary(media_type: str) -> None:
    assert Settings().is_compressible_type(media_type)


@pytest.mark.parametrize("media_type", [*ALREADY_COMPRESSED, "text", "", "texthtml", "/html"])
def test_default_mimetypes_leave_compressed_formats_alone(media_type: str) -> None:
    assert not Settings().is_compressible_type(media_type)


@pytest.mark.parametrize("media_type", FLASK_COMPRESS_MIMETYPES)
def test_flask_compress_defaults_are_its_26_types_only(media_type: str) -> None:
    flask = Settings.from_config({})
    assert flask.is_compressible_type(media_type)
    for other in ("text/csv", "text/event-stream", "application/problem+json"):
        assert not flask.is_compressible_type(other)


# --- the two spellings ------------------------------------------------------------------


def test_config_key_spelling() -> None:
    assert config_key("br_level") == "COMPRESS_BR_LEVEL"
    assert config_key("algorithm_streaming") == "COMPRESS_ALGORITHM_STREAMING"


def test_from_config_equals_from_options() -> None:
    options: dict[str, Any] = {
        "algorithm": "br, gzip",
        "algorithm_streaming": ["gzip"],
        "mimetypes": ["text/html", "text/*"],
        "level": 9,
        "deflate_level": 1,
        "br_level": 11,
        "br_mode": 1,
        "br_window": 16,
        "br_block": 18,
        "zstd_level": 19,
        "min_size": 0,
        "streams": False,
        "thread_min_size": 1,
        "success_only": True,
    }
    config = {config_key(option): value for option, value in options.items()}
    from_config = Settings.from_config(config)
    assert from_config == from_options(**options)
    assert from_config.algorithm == ("br", "gzip")
    assert from_config.algorithm_streaming == ("gzip",)
    assert from_config.br_window == 16
    assert from_config.streams is False


def test_from_config_ignores_keys_that_are_not_options() -> None:
    config = {"SECRET_KEY": "x", "DEBUG": True, "COMPRESS_LEVEL": 1}
    assert options_from_config(config) == {"level": 1}
    assert Settings.from_config(config) == Settings.from_options(
        level=1, mimetypes=FLASK_COMPRESS_MIMETYPES, success_only=True
    )


# --- algorithm ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("gzip", ("gzip",), id="single-string"),
        pytest.param("gzip, br, zstd", ("gzip", "br", "zstd"), id="comma-string"),
        pytest.param("gzip,br", ("gzip", "br"), id="comma-string-no-spaces"),
        pytest.param(["gzip", "br", "zstd"], ("gzip", "br", "zstd"), id="list"),
        pytest.param(("deflate", "gzip"), ("deflate", "gzip"), id="tuple"),
        pytest.param(iter(["br"]), ("br",), id="iterator"),
        pytest.param(" GZIP , Br ", ("gzip", "br"), id="stripped-and-lowercased"),
        pytest.param(["gzip", "br", "gzip"], ("gzip", "br"), id="duplicates-dropped"),
        pytest.param("gzip,,br,", ("gzip", "br"), id="empty-parts-dropped"),
    ],
)
def test_algorithm_forms(value: Any, expected: tuple[str, ...]) -> None:
    settings = from_options(algorithm=value)
    assert settings.algorithm == expected
    assert settings.algorithm_streaming == expected
    assert set(settings.encoders) == set(expected)


def test_algorithm_streaming_is_separate() -> None:
    settings = Settings.from_options(algorithm="gzip", algorithm_streaming="zstd, br")
    assert settings.algorithm == ("gzip",)
    assert settings.algorithm_streaming == ("zstd", "br")
    assert set(settings.encoders) == {"gzip", "zstd", "br"}


def test_algorithm_streaming_none_follows_algorithm() -> None:
    settings = Settings.from_options(algorithm="br", algorithm_streaming=None)
    assert settings.algorithm_streaming == ("br",)


@pytest.mark.parametrize("option", ["algorithm", "algorithm_streaming"])
@pytest.mark.parametrize("token", ["lzma", "brotli", "x-gzip", "identity", "*", "compress"])
def test_unknown_algorithm_names_the_known_ones(option: str, token: str) -> None:
    with pytest.raises(ValueError, match=re.escape(token)) as excinfo:
        from_options(**{option: f"gzip, {token}"})
    message = str(excinfo.value)
    assert option in message
    for known in ("zstd", "br", "gzip", "deflate"):
        assert known in message


def test_unknown_algorithm_in_config_names_the_key() -> None:
    with pytest.raises(ValueError, match="COMPRESS_ALGORITHM") as excinfo:
        Settings.from_config({"COMPRESS_ALGORITHM": ["gzip", "lzma"]})
    assert "lzma" in str(excinfo.value)
    assert "deflate" in str(excinfo.value)


# --- integer ranges -----------------------------------------------------------------------


def _in_range_values() -> list[Any]:
    params = []
    for option, (low, high) in RANGES.items():
        params.append(pytest.param(option, low, id=f"{option}-lowest-{low}"))
        params.append(
            pytest.param(option, high if high is not None else 10**12, id=f"{option}-highest")
        )
    params.append(pytest.param("br_block", 0, id="br_block-automatic-0"))
    params.append(pytest.param("level", 0, id="level-0"))
    params.append(pytest.param("zstd_level", 0, id="zstd_level-library-default-0"))
    params.append(pytest.param("zstd_level", -5, id="zstd_level-fast-mode"))
    return params


def _out_of_range_values() -> list[Any]:
    params = []
    for option, (low, high) in RANGES.items():
        if option != "br_block":
            params.append(pytest.param(option, low - 1, id=f"{option}-below-{low}"))
        if high is not None:
            params.append(pytest.param(option, high + 1, id=f"{option}-above-{high}"))
    params += [
        pytest.param("br_block", -1, id="br_block-negative"),
        pytest.param("br_block", 1, id="br_block-1"),
        pytest.param("br_block", 15, id="br_block-15"),
        pytest.param("level", -2, id="level-minus-2"),
        pytest.param("level", 99, id="level-99"),
    ]
    return params


@pytest.mark.parametrize(("option", "value"), _in_range_values())
def test_value_in_range_is_kept(option: str, value: int) -> None:
    assert getattr(from_options(**{option: value}), option) == value
    assert getattr(Settings.from_config({config_key(option): value}), option) == value


@pytest.mark.parametrize(("option", "value"), _out_of_range_values())
def test_value_out_of_range_raises_value_error_naming_option(option: str, value: int) -> None:
    with pytest.raises(ValueError, match=rf"\b{option}\b"):
        from_options(**{option: value})


@pytest.mark.parametrize(("option", "value"), _out_of_range_values())
def test_config_value_out_of_range_names_the_key(option: str, value: int) -> None:
    key = config_key(option)
    with pytest.raises(ValueError, match=rf"\b{key}\b"):
        Settings.from_config({key: value})


# --- wrong types --------------------------------------------------------------------------

WRONG_INT_VALUES = [
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param(6.0, id="float"),
    pytest.param("6", id="str"),
    pytest.param(b"6", id="bytes"),
    pytest.param(None, id="none"),
]


@pytest.mark.parametrize("value", WRONG_INT_VALUES)
@pytest.mark.parametrize("option", INT_OPTIONS)
def test_int_option_of_wrong_type_raises_type_error(option: str, value: object) -> None:
    with pytest.raises(TypeError, match=rf"\b{option}\b"):
        from_options(**{option: value})
    with pytest.raises(TypeError, match=config_key(option)):
        Settings.from_config({config_key(option): value})


@pytest.mark.parametrize("value", [1, "yes", None, 1.0])
def test_streams_must_be_a_bool(value: object) -> None:
    with pytest.raises(TypeError, match="streams"):
        from_options(streams=value)
    with pytest.raises(TypeError, match="COMPRESS_STREAMS"):
        Settings.from_config({"COMPRESS_STREAMS": value})


WRONG_LIST_VALUES = [
    pytest.param(1, id="int"),
    pytest.param(1.5, id="float"),
    pytest.param(True, id="bool"),
    pytest.param(b"gzip", id="bytes"),
    pytest.param(bytearray(b"gzip"), id="bytearray"),
    pytest.param([b"gzip"], id="list-of-bytes"),
    pytest.param(["gzip", 1], id="list-with-int"),
    pytest.param(["gzip", None], id="list-with-none"),
    pytest.param({"gzip": 1}, id="mapping"),
]


@pytest.mark.parametrize("value", WRONG_LIST_VALUES)
@pytest.mark.parametrize("option", ["algorithm", "algorithm_streaming", "mimetypes"])
def test_list_option_of_wrong_type_raises_type_error(option: str, value: object) -> None:
    with pytest.raises(TypeError, match=rf"\b{option}\b"):
        from_options(**{option: value})
    with pytest.raises(TypeError, match=config_key(option)):
        Settings.from_config({config_key(option): value})


@pytest.mark.parametrize("option", ["levle", "compress_level", "COMPRESS_LEVEL", "cache"])
def test_unknown_option_raises_type_error_naming_it(option: str) -> None:
    with pytest.raises(TypeError, match=re.escape(repr(option))):
        from_options(**{option: 1})


# --- mimetypes ------------------------------------------------------------------------------


def test_wildcard_mimetype_matches_the_whole_type() -> None:
    settings = Settings.from_options(mimetypes=["text/*", "application/json"])
    assert settings.is_compressible_type("text/html")
    assert settings.is_compressible_type("text/csv")
    assert settings.is_compressible_type("text/event-stream")
    assert settings.is_compressible_type("application/json")
    assert not settings.is_compressible_type("application/xml")
    assert not settings.is_compressible_type("application/json5")
    assert not settings.is_compressible_type("textual/html")
    assert not settings.is_compressible_type("image/svg+xml")


def test_exact_mimetypes_are_not_prefixes() -> None:
    settings = Settings.from_options(mimetypes="application/json")
    assert settings.is_compressible_type("application/json")
    assert not settings.is_compressible_type("application/jsonp")
    assert not settings.is_compressible_type("application/")


def test_mimetypes_from_config_are_normalized() -> None:
    settings = Settings.from_config({"COMPRESS_MIMETYPES": " Text/HTML , IMAGE/* "})
    assert settings.mimetypes == ("text/html", "image/*")
    assert settings.is_compressible_type("text/html")
    assert settings.is_compressible_type("image/png")
    assert not settings.is_compressible_type("text/plain")


@pytest.mark.parametrize("empty", [[], (), ""])
def test_empty_mimetypes_compress_nothing(empty: Any) -> None:
    settings = from_options(mimetypes=empty)
    assert settings.mimetypes == ()
    for media_type in (*FLASK_COMPRESS_MIMETYPES, "text/event-stream", "", "a/b"):
        assert not settings.is_compressible_type(media_type)


@pytest.mark.parametrize(
    "bad",
    ["html", "*/html", "text/", "/html", "text/html; charset=utf-8", "*/json+*", "text/*+"],
)
def test_malformed_mimetype_raises_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="mimetypes"):
        Settings.from_options(mimetypes=["text/plain", bad])
    with pytest.raises(ValueError, match="COMPRESS_MIMETYPES"):
        Settings.from_config({"COMPRESS_MIMETYPES": [bad]})


# --- the settings reach the encoders ---------------------------------------------------------


def test_gzip_level_reaches_the_encoder() -> None:
    # RFC 1952 XFL byte: 2 = maximum compression, 4 = fastest.
    best = Settings.from_options(level=9).encoders["gzip"]().finish(b"x" * 100)
    fastest = Settings.from_options(level=1).encoders["gzip"]().finish(b"x" * 100)
    assert (best[8], fastest[8]) == (2, 4)


@pytest.mark.parametrize(("level", "flevel"), [(1, 0), (-1, 2), (6, 2), (9, 3)])
def test_deflate_level_reaches_the_encoder(level: int, flevel: int) -> None:
    # RFC 1950: FLEVEL is the top two bits of the second header byte.
    out = Settings.from_options(deflate_level=level).encoders["deflate"]().finish(b"x" * 100)
    assert out[1] >> 6 == flevel
    assert zlib.decompress(out) == b"x" * 100


def test_br_level_reaches_the_encoder() -> None:
    data = prose(40_000)
    sizes = {
        level: len(Settings.from_options(br_level=level).encoders["br"]().finish(data))
        for level in (0, 11)
    }
    assert sizes[11] < sizes[0]
    assert brotli.decompress(Settings.from_options(br_level=11).encoders["br"]().finish(data)) == (
        data
    )


def test_zstd_level_reaches_the_encoder() -> None:
    data = prose(40_000)
    sizes = {
        level: len(Settings.from_options(zstd_level=level).encoders["zstd"]().finish(data))
        for level in (1, 19)
    }
    assert sizes[19] < sizes[1]


def test_zstd_encoder_output_decodes() -> None:
    data = prose(2_000)
    out = Settings.from_options(zstd_level=-7).encoders["zstd"]().finish(data)
    assert zstd.decompress(out) == data


# --- the middleware validates at construction ------------------------------------------------


def test_middleware_rejects_out_of_range_level_at_construction() -> None:
    with pytest.raises(ValueError, match="level"):
        CompressMiddleware(hello_app, level=99)


def test_middleware_rejects_unknown_option_at_construction() -> None:
    options: dict[str, Any] = {"compression_level": 5}
    with pytest.raises(TypeError, match="compression_level"):
        CompressMiddleware(hello_app, **options)


def test_middleware_keeps_its_validated_settings() -> None:
    middleware = CompressMiddleware(hello_app, algorithm="gzip", br_level=5)
    assert middleware.settings == Settings.from_options(algorithm="gzip", br_level=5)


# --- patterns, exclusions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "media_type", "expected"),
    [
        pytest.param("*/*+json", "application/problem+json", True, id="suffix-any-type"),
        pytest.param("*/*+json", "application/vnd.github.v3+json", True, id="suffix-vendor"),
        pytest.param("*/*+json", "application/json", False, id="suffix-is-not-the-type"),
        pytest.param("*/*+json", "application/json+zip", False, id="last-suffix-counts"),
        pytest.param("*/*+xml", "image/svg+xml", True, id="suffix-image"),
        pytest.param("application/*+xml", "application/atom+xml", True, id="typed-suffix"),
        pytest.param("application/*+xml", "image/svg+xml", False, id="typed-suffix-other-type"),
        pytest.param("*/*", "application/octet-stream", True, id="everything"),
        pytest.param("*/*", "", False, id="everything-but-no-type"),
        pytest.param("text/*", "text", False, id="family-needs-a-subtype"),
        pytest.param("font/*", "font/woff2", True, id="family"),
    ],
)
def test_media_type_patterns(patterns: str, media_type: str, expected: bool) -> None:
    assert Settings(mimetypes=patterns).is_compressible_type(media_type) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exclude", "media_type", "expected"),
    [
        pytest.param("text/event-stream", "text/event-stream", False, id="exact"),
        pytest.param("text/event-stream", "text/csv", True, id="exact-leaves-others"),
        pytest.param("*/*+xml", "image/svg+xml", False, id="suffix"),
        pytest.param("image/*", "image/x-icon", False, id="family"),
        pytest.param("*/*", "text/html", False, id="everything"),
    ],
)
def test_exclude_mimetypes_win_over_mimetypes(
    exclude: str, media_type: str, expected: bool
) -> None:
    settings = Settings.from_options(exclude_mimetypes=exclude)
    assert settings.is_compressible_type(media_type) is expected
    assert settings.mimetypes == DEFAULT_MIMETYPES


def test_answers_stay_right_past_the_memo_bound() -> None:
    settings = Settings(mimetypes=("text/*",), exclude_mimetypes=("text/event-stream",))
    for i in range(3000):  # far more distinct types than any memo keeps
        assert settings.is_compressible_type(f"text/x-{i}")
        assert not settings.is_compressible_type(f"image/x-{i}")
    assert not settings.is_compressible_type("text/event-stream")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("/metrics", ("/metrics",), id="one-prefix"),
        pytest.param(["/static/", "/"], ("/static", "/"), id="trailing-slash-dropped"),
        pytest.param(re.compile(r"\.zip$"), (re.compile(r"\.zip$"),), id="one-regex"),
        pytest.param(("/a", "/a", "/b"), ("/a", "/b"), id="duplicates-dropped"),
        pytest.param([], (), id="none"),
    ],
)
def test_exclude_paths_forms(value: Any, expected: tuple[Any, ...]) -> None:
    assert Settings.from_options(exclude_paths=value).exclude_paths == expected
    assert Settings.from_config({"COMPRESS_EXCLUDE_PATHS": value}).exclude_paths == expected


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        pytest.param("metrics", ValueError, id="no-leading-slash"),
        pytest.param([re.compile(rb"/x")], TypeError, id="bytes-regex"),
        pytest.param(42, TypeError, id="int"),
        pytest.param({"/a": 1}, TypeError, id="mapping"),
    ],
)
def test_bad_exclude_paths_name_the_option(value: Any, kind: type[Exception]) -> None:
    with pytest.raises(kind, match="exclude_paths"):
        Settings.from_options(exclude_paths=value)
    with pytest.raises(kind, match="COMPRESS_EXCLUDE_PATHS"):
        Settings.from_config({"COMPRESS_EXCLUDE_PATHS": value})


def test_prefix_slash_excludes_every_path() -> None:
    settings = Settings.from_options(exclude_paths="/")
    assert all(settings.is_excluded_path(p) for p in ("/", "/a", "/a/b"))


@pytest.mark.parametrize("option", ["success_only", "streams"])
def test_flags_are_bools_naming_the_option(option: str) -> None:
    with pytest.raises(TypeError, match=option):
        from_options(**{option: "yes"})
    assert getattr(from_options(**{option: True}), option) is True


def test_empty_algorithm_in_config_says_how_to_turn_compression_off() -> None:
    with pytest.raises(
        ValueError, match="COMPRESS_ALGORITHM is empty.*COMPRESS_MIMETYPES = \\[\\]"
    ):
        Settings.from_config({"COMPRESS_ALGORITHM": []})
