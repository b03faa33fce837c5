"""``python -m asgi_compress COMMAND``: the package's command-line tools.

Each command lives with its feature and registers itself here (``add_*_command``).

- ``warm DIR --cache URL_OR_DIR``: compress static files into a cache ahead of time
  (asgi_compress/cli/_warm.py over asgi_compress/cache/warm.py).
- ``precompress DIR [--codings br,zstd,gzip]``: write precompressed siblings (``app.js.br``)
  that the middleware serves in place of encoding (asgi_compress/cli/_precompress.py over
  asgi_compress/static/precompress.py).
- ``train-dictionary SAMPLES_DIR -o FILE``: train a zstd dictionary from sample responses,
  for ``ProvidedDictionary`` (asgi_compress/cli/_train.py, RFC 9842 dcz).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .cli._precompress import add_precompress_command
from .cli._train import add_train_command
from .cli._warm import add_warm_command


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command it names; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m asgi_compress")
    commands = parser.add_subparsers(title="commands", required=True)
    add_warm_command(commands)
    add_precompress_command(commands)
    add_train_command(commands)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
