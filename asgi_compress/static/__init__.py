"""Static files prepared ahead of time, for ``StaticFiles``-style apps that send files by path.

``_files.py`` finds the files of a directory the middleware would compress, and names their
precompressed siblings (``app.js.br``); ``precompress.py`` writes those siblings. The
response folder reads them (``response/_precompressed.py``) and ``cache/warm.py`` stores the
same files into a cache; ``python -m asgi_compress precompress`` and ``warm`` are the
commands over them.
"""
