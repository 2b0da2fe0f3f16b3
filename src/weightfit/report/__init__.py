"""Renderers: turn results (manifests, reports, plans) into terminal text or JSON.

Renderers only. Nothing here decides anything: every fact shown is already in
the object passed in. Terminal output uses rich and escapes every name read
from a file (:func:`sanitize_name`); JSON output follows a
published schema beside the renderer (``inspect.schema.json`` ...), which a
test checks against real output.
"""

from rich.markup import escape

from weightfit.manifest import counted

__all__ = ["counted", "sanitize_name"]


def sanitize_name(name: str) -> str:
    """A name read from a file, safe to print: control characters shown, markup escaped."""
    printable = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in name)
    return escape(printable)
