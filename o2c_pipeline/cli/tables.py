"""Plain-text tables for the terminal: columns padded to their widest cell, two spaces apart."""

from __future__ import annotations

from collections.abc import Container, Sequence


def text_table(
    rows: Sequence[Sequence[str]], *, right: Container[int] = (), rules_before: Container[int] = ()
) -> list[str]:
    """One line per row (columns in ``right`` right-aligned), with a dashed rule before each
    row index in ``rules_before``."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    lines = []
    for n, row in enumerate(rows):
        if n in rules_before:
            lines.append("  ".join("-" * width for width in widths))
        lines.append(
            "  ".join(
                cell.rjust(width) if i in right else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
        )
    return lines
