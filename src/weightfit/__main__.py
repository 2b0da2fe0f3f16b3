"""``python -m weightfit``: the same as the ``weightfit`` command."""

from weightfit.cli import entry

entry()
