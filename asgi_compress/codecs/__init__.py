"""Content codings: one small encoder per HTTP token, BREACH padding, and where a step runs.

Built on :mod:`asgi_compress.http` and the ASGI type aliases only; the response and cache
folders drive these encoders.
"""
