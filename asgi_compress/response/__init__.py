"""One HTTP response through the middleware: decide what it becomes, then carry it out.

``_decide.py`` holds every judgement, pure and table-tested; ``_states.py`` the states and the
table of moves between them. The responder carries the decisions out in layers, each building
on the one before: ``_output.py`` the heads and bodies it sends, ``_held.py`` the body
messages (held, whole, streamed), ``_files.py`` path sends, ``_responder.py`` the entry points
(``send``, ``receive``, the start). ``_codings.py`` is how an encoded body is made,
``_stream.py`` and ``_pause.py`` streamed bodies and their flushes, ``_precompressed.py`` the
``app.js.br`` siblings served in place of encoding.
"""
