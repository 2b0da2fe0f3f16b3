"""Hostile and broken checkpoint files, built byte by byte (``struct.pack``).

One builder per attack: ``builder(path) -> Path`` writes the file and returns
it. Tests pair each with the exact error it must raise; see
``tests/test_safetensors.py``, ``tests/test_safetensors_index.py`` and
``tests/test_gguf_reader.py``.
"""
