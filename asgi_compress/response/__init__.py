"""One HTTP response through the middleware: decide what it becomes, then carry it out.

``_decide.py`` holds the pure decisions, ``_responder.py`` the per-response state machine,
``_output.py`` the heads and bodies it sends, ``_codings.py`` how an encoded body is made,
``_stream.py`` and ``_pause.py`` streamed bodies and their flushes, ``_precompressed.py``
the ``app.js.br`` siblings served in place of encoding.
"""
