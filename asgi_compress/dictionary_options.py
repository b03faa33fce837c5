"""The documented path of :class:`ProvidedDictionary` before the package was laid out by
feature; its home is :mod:`asgi_compress.dictionaries`."""

from .dictionaries.options import DictionarySettings, ProvidedDictionary

__all__ = ["DictionarySettings", "ProvidedDictionary"]
