"""``python -m asgi_compress COMMAND``: the package's command line.

Each subcommand registers itself with ``add_*_parser(subparsers)`` and sets ``run``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._train import add_train_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; its exit status is returned."""
    parser = argparse.ArgumentParser(prog="python -m asgi_compress")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_train_parser(subparsers)
    args = parser.parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
