"""Terminal tables through rich: one place that decides widths, alignment and colour.

On a terminal rich sizes to it and colours headers; piped or redirected it writes plain text,
wide enough that no cell is cut (a script can still read it).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Container, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

#: the width used when the output is not a terminal, so rows are never wrapped or cut
PLAIN_WIDTH = 240


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr): coloured on a TTY, plain and wide otherwise."""
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(
        file=stream,
        highlight=False,
        width=None if tty else PLAIN_WIDTH,
        no_color=not tty,
        soft_wrap=not tty,
    )


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    right: Container[int] = (),
    footer: Sequence[Any] | None = None,
    empty: str = "(none)",
) -> Table:
    """A table of ``rows`` (None shows as ``-``); columns in ``right`` right-aligned; ``footer``
    a totals row under a rule."""
    grid = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_footer=footer is not None,
        header_style="bold",
        pad_edge=False,
    )
    for i, name in enumerate(header):
        cells = [str(name), *(_cell(row[i]) for row in rows)]
        if footer is not None:
            cells.append(_cell(footer[i]))
        grid.add_column(
            str(name),
            footer="" if footer is None else _cell(footer[i]),
            justify="right" if i in right else "left",
            no_wrap=True,
            # figures are never cut: on a narrow terminal the text columns give way
            min_width=max(map(len, cells)) if i in right else None,
        )
    for row in rows:
        grid.add_row(*(_cell(v) for v in row))
    if not rows:
        grid.add_row(empty, *([""] * (len(header) - 1)))
    return grid


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def echo(grid: Table, *, stderr: bool = False) -> None:
    """Print ``grid`` with every figure: off a terminal as wide as its widest row; on a narrow
    one the text columns give way first, then lines wrap rather than figures vanish."""
    out = console(stderr=stderr)
    needed = Measurement.get(out, out.options.update_width(100_000), grid)
    if out.is_terminal:
        out.width = max(out.width, needed.minimum)
        out.print(grid)
        return
    out.width = max(PLAIN_WIDTH, needed.maximum)
    with out.capture() as captured:
        out.print(grid)
    # plain text for scripts and files: no padding after the last cell of a line
    out.file.write("".join(f"{line.rstrip()}\n" for line in captured.get().splitlines()))


def text_table(
    rows: Sequence[Sequence[str]], *, right: Container[int] = (), rules_before: Container[int] = ()
) -> list[str]:
    """``rows`` (the first is the header) as plain lines, for reports written to files."""
    if not rows:
        return []
    buffer = io.StringIO()
    Console(file=buffer, width=PLAIN_WIDTH, no_color=True, highlight=False).print(
        table(rows[0], rows[1:], right=right)
    )
    return [line.rstrip() for line in buffer.getvalue().splitlines() if line.strip()]
