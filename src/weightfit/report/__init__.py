"""Renderers: turn results (manifests, reports, plans) into terminal text or JSON.

Renderers only. Nothing here decides anything: every fact shown is already in
the object passed in. Terminal output uses rich and escapes every name read
from a file (:func:`weightfit.cli._output.sanitize_name`); JSON output follows a
published schema beside the renderer (``inspect.schema.json`` ...), which a
test checks against real output.
"""
