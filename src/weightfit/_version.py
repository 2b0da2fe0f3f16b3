"""The version of weightfit: the one place it is written (``pyproject.toml`` repeats it)."""

__version__ = "0.1.0"
