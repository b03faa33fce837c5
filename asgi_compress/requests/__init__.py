"""Compressed request bodies: decoded inside ``receive()`` (``_body.py``), with bounded
decoders chained for stacked codings (``_decoders.py``)."""
