"""The project's session recording format (``recording/format.py``)."""
