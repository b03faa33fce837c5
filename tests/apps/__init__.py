"""The apps real servers load from a subprocess (``tests.apps.sse_app:app`` ...): not tests."""
