"""The request views and settings the decision tables share (asgi_compress/response/_decide.py)."""

from __future__ import annotations

from asgi_compress import PassReason, Settings
from asgi_compress.response._decide import Action, Decision, RequestView

BOTH = RequestView("br", "gzip")
HEAD = RequestView("br", "gzip", is_head=True)
DCZ_HEAD = RequestView("dcz", "dcz", is_head=True)
STRIPPED = RequestView("br", "br", stripped={b'"a"': b'"a:br"'})
EXCLUDED = RequestView(None, None, excluded=True)
MW = Settings()


def passes(reason: PassReason) -> Decision:
    return Decision(Action.PASS, None, reason)
