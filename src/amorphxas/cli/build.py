"""The ``amorphxas`` commands that build cells and references, and analyse their Si sites."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table

from amorphxas.cli._common import (
    STRUCTURE_SUFFIXES,
    DepletedSchedule,
    Reference,
    Schedule,
    _at_least,
    _write_structure,
    app,
    build_app,
    console,
    old_names,
    one_line_errors,
)
from amorphxas.core.errors import AmorphxasError
from amorphxas.core.files import (
    check_output_file,
)


@build_app.command("reference")
@one_line_errors
def build_reference_cmd(name: Reference, output: Path = typer.Option(..., "-o", "--output")):
    """Crystal reference: alpha-quartz (72 atoms) or diamond-si (64 atoms)."""
    from amorphxas.structures import build_reference

    check_output_file(output, STRUCTURE_SUFFIXES, what="structure file")
    atoms = build_reference(name.value)
    _write_structure(atoms, output)
    console.print(f"{name.value}: {len(atoms)} atoms -> {output}")


@build_app.command("melt-quench")
@one_line_errors
@old_names(old_preset="schedule")
def build_melt_quench_cmd(
    x: float = typer.Option(1.0, "--x", help="O/Si ratio, 0..2"),
    atoms: int = typer.Option(100, "--atoms", help="total number of atoms"),
    schedule: Schedule = typer.Option(Schedule.dataset, "--schedule", help="MD schedule "
                                      "(docs/structures.md): dataset = the shipped DFT cells' "
                                      "(~30 s per 100 atoms), study1 = the paper's, network = slower "
                                      "cooling, test = seconds"),
    old_preset: Schedule | None = typer.Option(None, "--preset", hidden=True),
    seed: int = typer.Option(0, "--seed", min=0),
    output: Path = typer.Option(..., "-o", "--output"),
):
    """Random-melt protocol (study 1): random placement, 5000 K anneal, quench."""
    from amorphxas.cli._progress import steps_bar
    from amorphxas.structures import melt_quench
    from amorphxas.structures.builders import random_composition

    check_output_file(output, STRUCTURE_SUFFIXES, what="structure file")
    _at_least(atoms, 2, "--atoms")
    n_si, n_o = random_composition(x, atoms)
    if abs(n_o / n_si - x) > 0.05:  # e.g. --atoms 2 --x 2 would give SiO1
        raise AmorphxasError(f"--atoms {atoms} cannot give SiO{x:g}: the nearest is {n_si} Si + "
                             f"{n_o} O (x = {n_o / n_si:.3g}); use more atoms")
    with steps_bar(console) as progress:
        cell = melt_quench(x=x, n_atoms=atoms, preset=schedule.value, seed=seed, progress=progress)
    _write_structure(cell, output)
    console.print(f"SiO{x:g}: {len(cell)} atoms, {cell.get_volume():.1f} A^3 -> {output}")


@build_app.command("depleted-supercell")
@one_line_errors
@old_names(old_preset="schedule")
def build_depleted_cmd(
    x: float = typer.Option(1.0, "--x", help="O/Si ratio, one of 0, 0.25, ..., 2"),
    schedule: DepletedSchedule = typer.Option(DepletedSchedule.dataset, "--schedule", help="MD "
                                              "schedule (docs/structures.md): dataset = 20 + 60 ps "
                                              "(~45 s), study2 = the paper's, test = seconds"),
    old_preset: DepletedSchedule | None = typer.Option(None, "--preset", hidden=True),
    seed: int = typer.Option(0, "--seed", min=0),
    output: Path = typer.Option(..., "-o", "--output"),
):
    """Depleted-supercell protocol (study 2): 4x4x4 cubic SiO2, remove Si/O, melt, quench."""
    from amorphxas.cli._progress import steps_bar
    from amorphxas.structures import depleted_supercell

    check_output_file(output, STRUCTURE_SUFFIXES, what="structure file")
    with steps_bar(console) as progress:
        cell = depleted_supercell(x=x, preset=schedule.value, seed=seed, progress=progress)
    _write_structure(cell, output)
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
    rows = [(str(v), f"Si{v}+", valences.count(v)) for v in range(5)]
    rows.append((">4", "over-coordinated", sum(v > 4 for v in valences)))
    for valence, label, count in rows:
        table.add_row(valence, label, str(count), f"{count / max(len(records), 1):.3f}")
    console.print(table)

