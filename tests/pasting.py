"""What a terminal does to a pasted text (the paste tests and `bench/explain_paste.py`)."""

from __future__ import annotations


def hard_wrapped(text: str, width: int, mark: str = "") -> str:
    """The text as a terminal of ``width`` columns breaks it (a reply quotes it with ``mark``)."""
    lines = []
    for line in text.split("\n"):
        while len(line) > width:
            lines.append(line[:width])
            line = line[width:]
        lines.append(line)
    return "\n".join(mark + line for line in lines)
