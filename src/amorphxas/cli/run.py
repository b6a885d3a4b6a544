"""The ``amorphxas`` commands for the whole pipeline and its report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from amorphxas.cli._common import (
    app,
    console,
    old_names,
    one_line_errors,
)
from amorphxas.cli.dataset import dataset_info_cmd
from amorphxas.core.files import (
    check_output_dir,
)


@app.command("run")
@one_line_errors
@old_names(old_out="out")
def run_cmd(
    dataset: Path | None = typer.Option(None, "--dataset"),
    out: Path = typer.Option(Path("amorphxas-run"), "-o", "--output", help="run folder (report.html, "
                             "metrics.json, figures)"),
    old_out: Path | None = typer.Option(None, "--out", hidden=True),
    quick: bool = typer.Option(False, "--quick", help="one descriptor, no windows, small ensembles"),
):
    """The main job: every stage on the embedded (or given) dataset, then an HTML report."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from amorphxas.dataset import embedded_path
    from amorphxas.pipeline import run_pipeline, summary_rows

    source = dataset or embedded_path()
    check_output_dir(out, what="run folder")
    dataset_info_cmd(source, as_json=False)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("stage {task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("starting", total=None)

        def progress(done: int, total: int, name: str) -> None:
            bar.update(task, description=name, completed=done, total=total)

        metrics = run_pipeline(source, out, quick=quick, log=lambda message: None, progress=progress)
    table = Table(title="summary")
    for column in ("what", "result"):
        table.add_column(column)
    for what, result in summary_rows(metrics):
        table.add_row(f"[yellow]{what}[/yellow]" if what == "not run" else what, result)
    console.print(table)
    console.print(f"report: {out / 'report.html'} ({metrics['seconds']:.0f} s)")


@app.command("report")
@one_line_errors
def report_cmd(run_dir: Path):
    """Render DIR/report.html (self-contained) from what `amorphxas run` saved in DIR."""
    from amorphxas.report.html import render

    console.print(f"report: {render(run_dir)}")

