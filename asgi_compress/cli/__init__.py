"""The commands behind ``python -m asgi_compress`` (``__main__.py`` dispatches to them).

Argument parsing and printing only (``_command.py``: the directory check and the exit
message every command shares); the work is done by the feature each command serves: ``warm``
by :mod:`asgi_compress.cache.warm`, ``precompress`` by :mod:`asgi_compress.static.precompress`,
``train-dictionary`` by the dictionaries' trainer.
"""
