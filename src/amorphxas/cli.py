"""The ``amorphxas`` command line: thin typer commands, each a call into one stage."""

from __future__ import annotations

import json
import sys
from enum import Enum
from functools import wraps
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from amorphxas.errors import AmorphxasError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Structure <-> Si K-edge XANES of amorphous SiOx.")
build_app = typer.Typer(no_args_is_help=True, help="Build amorphous SiOx cells and crystal references.")
dataset_app = typer.Typer(no_args_is_help=True, help="The dataset shipped in the package.")
app.add_typer(build_app, name="build")
app.add_typer(dataset_app, name="dataset")
console = Console()
err_console = Console(stderr=True)


def one_line_errors(func):
    """Show an :class:`AmorphxasError` as one red line and exit 1 instead of a traceback."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AmorphxasError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


class Reference(str, Enum):
    alpha_quartz = "alpha-quartz"
    diamond_si = "diamond-si"


class Preset(str, Enum):
    test = "test"
    study1 = "study1"
    study2 = "study2"
    dataset = "dataset"


@build_app.command("reference")
@one_line_errors
def build_reference_cmd(name: Reference, output: Path = typer.Option(..., "-o", "--output")):
    """Crystal reference: alpha-quartz (72 atoms) or diamond-si (64 atoms)."""
    from amorphxas.structures import build_reference, write_structure

    atoms = build_reference(name.value)
    write_structure(atoms, output)
    console.print(f"{name.value}: {len(atoms)} atoms -> {output}")


@build_app.command("melt-quench")
@one_line_errors
def build_melt_quench_cmd(
    x: float = typer.Option(1.0, "--x", help="O/Si ratio, 0..2"),
    atoms: int = typer.Option(100, "--atoms", help="total number of atoms"),
    preset: Preset = typer.Option(Preset.test, "--preset"),
    seed: int = typer.Option(0, "--seed"),
    output: Path = typer.Option(..., "-o", "--output"),
):
    """Random-melt protocol (study 1): random placement, 5000 K anneal, quench."""
    from amorphxas.structures import melt_quench, write_structure

    cell = melt_quench(x=x, n_atoms=atoms, preset=preset.value, seed=seed, progress=True)
    write_structure(cell, output)
    console.print(f"SiO{x:g}: {len(cell)} atoms, {cell.get_volume():.1f} A^3 -> {output}")


@build_app.command("depleted-supercell")
@one_line_errors
def build_depleted_cmd(
    x: float = typer.Option(1.0, "--x", help="O/Si ratio, one of 0, 0.25, ..., 2"),
    preset: Preset = typer.Option(Preset.test, "--preset"),
    seed: int = typer.Option(0, "--seed"),
    output: Path = typer.Option(..., "-o", "--output"),
):
    """Depleted-supercell protocol (study 2): 4x4x4 cubic SiO2, remove Si/O, melt, quench."""
    from amorphxas.structures import depleted_supercell, write_structure

    cell = depleted_supercell(x=x, preset=preset.value, seed=seed, progress=True)
    write_structure(cell, output)
    console.print(f"SiO{x:g}: {len(cell)} atoms, {cell.get_volume():.1f} A^3 -> {output}")


@app.command("sites")
@one_line_errors
def sites_cmd(
    structure: Path,
    as_json: bool = typer.Option(False, "--json", help="print a JSON list, one object per Si"),
    rdf: bool = typer.Option(False, "--rdf", help="include the per-site RDF (256 points)"),
):
    """Per-Si-site analysis: valence (O neighbours), motif, per-site RDF."""
    from amorphxas.sites import analyse
    from amorphxas.structures import read_structure

    result = analyse(read_structure(structure))
    records = result.records(include_rdf=rdf)
    if as_json:
        sys.stdout.write(json.dumps(records) + "\n")
        return
    table = Table(title=f"{structure}: {len(records)} Si sites")
    for column in ("valence", "label", "count", "fraction"):
        table.add_column(column)
    valences = [r["valence"] for r in records]
    for valence in range(5):
        count = valences.count(valence)
        table.add_row(str(valence), f"Si{valence}+", str(count),
                      f"{count / max(len(records), 1):.3f}")
    console.print(table)


@dataset_app.command("path")
def dataset_path_cmd():
    """Print the path of the dataset embedded in the package."""
    from amorphxas.dataset import embedded_path

    typer.echo(str(embedded_path()))


@dataset_app.command("info")
@one_line_errors
def dataset_info_cmd(
    path: Optional[Path] = typer.Argument(None),
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
    console.print("references: " + (", ".join(summary["references"]) or "none"))


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
