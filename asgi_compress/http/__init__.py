"""Pure HTTP: header lists, Accept-Encoding, media types, paths, Structured Fields, URL patterns.

Functions and value objects over bytes and strings, no I/O and nothing else of ours (only
the ASGI type aliases): every other folder may build on these, and these on none of them.
"""
