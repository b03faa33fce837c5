"""The commands behind ``python -m asgi_compress`` (``__main__.py`` dispatches to them).

Argument parsing and printing only; the work is done by the feature each command serves:
``warm`` by :mod:`asgi_compress.cache.warm`, ``train-dictionary`` by the dictionaries'
trainer, ``precompress`` here, next to the siblings it writes for the response folder.
"""
