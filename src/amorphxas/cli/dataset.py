"""The ``amorphxas dataset`` commands: path, info, create, fork, reevaluate, ingest, merge, add."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from amorphxas.cli._common import (
    console,
    dataset_app,
    old_names,
    one_line_errors,
    output_or_positional,
)
from amorphxas.core.files import (
    check_output_file,
)

NEW_DATASET = typer.Option(None, "-o", "--output", help="the new dataset (.h5)")
OLD_POSITIONAL = typer.Argument(None, hidden=True)  # the old spelling: the new dataset as argument


@dataset_app.command("path")
def dataset_path_cmd():
    """Print the path of the dataset embedded in the package."""
    from amorphxas.dataset import embedded_path

    typer.echo(str(embedded_path()))


@dataset_app.command("info")
@one_line_errors
def dataset_info_cmd(
    path: Path | None = typer.Argument(None),
    as_json: bool = typer.Option(False, "--json"),
):
    """Counts by composition and valence, and the DFT settings."""
    from amorphxas.dataset import embedded_path, info

    summary = info(path or embedded_path())
    if as_json:
        typer.echo(json.dumps(summary, indent=1))
        return
    console.print(f"[bold]{summary['path']}[/bold]: {summary['n_sites']} site spectra in "
                  f"{summary['n_cells']} cells ({summary['n_bader']} Bader charges, "
                  f"{summary['n_failed']} failed sites); engine: {summary['engine']}")
    console.print("by valence: " + ", ".join(f"Si{k}+ {v}" for k, v in summary["by_valence"].items()))
    console.print("by composition x: " + ", ".join(f"{k}: {v}" for k, v in
                                                   summary["by_composition"].items()))
    console.print("by fidelity: " + ", ".join(f"{k} {v}" for k, v in
                                              summary["n_sites_by_fidelity"].items())
                  + f"; {summary['n_test_reserved']} in the reserved test set")
    console.print("cells by composition x: " + ", ".join(
        f"{k}: {v}" for k, v in summary["by_composition_cells"].items()))
    console.print("cells by quench schedule: " + ", ".join(
        f"{k}: {v}" for k, v in summary["by_preset_cells"].items())
        + f"; {summary['n_cells_bader']} cells with Bader charges")
    console.print("references: " + (", ".join(summary["references"]) or "none"))


@dataset_app.command("create")
@one_line_errors
def dataset_create_cmd(old_path: Path | None = OLD_POSITIONAL,
                       output: Path | None = NEW_DATASET):
    """Create an empty dataset OUTPUT (common grid 1830-1880 eV, 256 points)."""
    from amorphxas.core.spectrum import COMMON_GRID
    from amorphxas.dataset import create

    path = output_or_positional(output, old_path, "dataset")
    check_output_file(path, overwrite=False, what="dataset")
    create(path, COMMON_GRID)
    console.print(f"created {path}")


@dataset_app.command("fork")
@one_line_errors
def dataset_fork_cmd(source: Path, old_path: Path | None = OLD_POSITIONAL,
                     output: Path | None = NEW_DATASET):
    """A new dataset OUTPUT for a new DFT protocol: SOURCE's cells, site tables and Bader charges,
    no spectra or references."""
    from amorphxas.dataset import fork, validate

    path = output_or_positional(output, old_path, "dataset")
    validate(source)
    check_output_file(path, overwrite=False, what="dataset")
    fork(source, path)
    console.print(f"created {path} from the cells of {source}")


@dataset_app.command("reevaluate")
@one_line_errors
@old_names(old_preset="preset", old_to_preset="to_preset")
def dataset_reevaluate_cmd(source: Path, old_path: Path | None = OLD_POSITIONAL,
                           output: Path | None = NEW_DATASET,
                           preset: str = typer.Option("production-v3", "--protocol",
                                                      help="SOURCE's DFT protocol"),
                           to_preset: str | None = typer.Option(
                               None, "--to-protocol", help="OUTPUT's protocol, if it differs from "
                               "SOURCE's only in how chains are evaluated (cut, steps, k-point subset)"),
                           old_preset: str | None = typer.Option(None, "--preset", hidden=True),
                           old_to_preset: str | None = typer.Option(None, "--to-preset", hidden=True)):
    """A new dataset OUTPUT: SOURCE with every spectrum evaluated again from its stored Lanczos
    chains (after a fix of the chain evaluation, or under another chain evaluation; no DFT)."""
    from amorphxas.dataset import validate
    from amorphxas.spectra.campaign import reevaluate_dataset
    from amorphxas.spectra.qe import get_settings

    path = output_or_positional(output, old_path, "dataset")
    validate(source)
    for name in (preset, to_preset):
        if name is not None:
            get_settings(name)
    check_output_file(path, overwrite=False, what="dataset")
    n = reevaluate_dataset(source, path, preset, to_preset, log=console.print)
    console.print(f"created {path}: {n} site spectra re-evaluated from {source}")


@dataset_app.command("ingest")
@one_line_errors
@old_names(old_preset="preset")
def dataset_ingest_cmd(path: Path, directory: Path,
                       preset: str = typer.Option("production-v4", "--protocol",
                                                  help="DATASET's DFT protocol"),
                       old_preset: str | None = typer.Option(None, "--preset", hidden=True)):
    """Read finished QE runs of `compute -o DIR` back into the dataset PATH (same
    checks and alignment as the campaign; failed runs are recorded as failures)."""
    from amorphxas.spectra.handoff import ingest

    stats = ingest(path, directory, preset, log=console.print)
    console.print(f"done {stats['done']}, failed {stats['failed']}, pending {stats['pending']}, "
                  f"skipped {stats['skipped']} (already in {path})")


@dataset_app.command("merge")
@one_line_errors
def dataset_merge_cmd(first: Path, second: Path, output: Path = typer.Option(..., "-o", "--output")):
    """A new dataset OUTPUT: FIRST plus the cells, references and site spectra of SECOND that
    FIRST lacks (one protocol; each site once, FIRST's spectrum where both have one)."""
    from amorphxas.dataset.merge import merge

    counts = merge(first, second, output)
    console.print(f"{output}: {counts['from_first'] + counts['added']} site spectra "
                  f"({counts['from_first']} from {first}, {counts['added']} added from {second}, "
                  f"{counts['in_both']} in both kept once)")


@dataset_app.command("add")
@one_line_errors
def dataset_add_cmd(path: Path, structures: list[Path]):
    """Add structure files (cells) and their site analysis to a dataset (all or nothing: one
    bad file leaves the dataset unchanged)."""
    from amorphxas.sites.ingest import add_cells

    added = add_cells(path, structures)
    console.print(f"added {len(added)} cells to {path}")

