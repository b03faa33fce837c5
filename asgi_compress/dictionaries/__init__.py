"""Compression Dictionary Transport (RFC 9842): the ``dcz`` coding's dictionaries.

``transport.py`` decides which dictionary a response uses (pure); ``options.py`` holds the
middleware's dictionary options and :class:`ProvidedDictionary`; ``_store.py`` keeps the
dictionaries, ``_layer.py`` carries one request's transport out, ``_train.py`` trains one.

Example:
    >>> from asgi_compress.dictionaries import ProvidedDictionary  # doctest: +SKIP
"""

from .options import DictionarySettings, ProvidedDictionary

__all__ = ["DictionarySettings", "ProvidedDictionary"]
