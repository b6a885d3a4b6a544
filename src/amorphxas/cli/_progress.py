"""The command line's progress bars: library code reports progress through callbacks (a campaign's
:class:`~amorphxas.spectra.campaign.SiteEvent` per finished site; ``(done, total, label)`` steps of
an MD run or a descriptor pass), and these draw it with rich."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def campaign_bar(console: Console) -> Iterator[Callable]:
    """A "DFT sites" bar for the length of the block; yields the callback for
    ``CampaignMaker.run(progress=...)``: each finished site moves the bar and prints its line
    (a failed attempt in yellow), so a background campaign's log shows its rate."""
    columns = (TextColumn("[bold]DFT sites"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("sites", total=None)  # the count is known once sites are selected

        def report(event) -> None:
            bar.update(task, completed=event.done, total=event.total)
            bar.console.print(event.line if event.ok else f"[yellow]{event.line}")

        yield report


@contextmanager
def steps_bar(console: Console | None = None) -> Iterator[Callable[[int, int, str], None]]:
    """A bar for the length of the block; yields the callback ``(done, total, label)`` that
    library loops (MD stages, descriptor chunks) call after each step."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        current: list = [None]

        def report(done: int, total: int, label: str) -> None:
            if current[0] is None:
                current[0] = bar.add_task(label, total=total)
            bar.update(current[0], completed=done, total=total, description=label)

        yield report
