"""The ``amorphxas`` commands for inversion of measured spectra and the reference standards."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from amorphxas.cli._common import (
    FIGURE_SUFFIXES,
    ReferenceMaterial,
    app,
    console,
    one_line_errors,
)
from amorphxas.core.errors import AmorphxasError
from amorphxas.core.files import (
    atomic_path,
    check_output_file,
    write_text_atomic,
)


@app.command("invert")
@one_line_errors
def invert_cmd(
    model_dir: Path,
    spectrum: Path,
    as_json: bool = typer.Option(False, "--json", help="print the answer as JSON instead of text"),
    output: Path | None = typer.Option(None, "-o", "--output", help="write the answer as JSON "
                                       "(the --json fields) to this .json file"),
    energy_shift: float = typer.Option(0.0, "--energy-shift", help="eV added to the energies first"),
    figure: Path | None = typer.Option(None, "--figure", help="PNG/PDF/SVG: normalisation, fit, "
                                       "weighted components, residual"),
    reference: list[Path] | None = typer.Option(
        None, "--reference", help="reference spectrum measured on the sample's energy scale "
        "(once per --reference-material, in the same order)"),
    reference_material: list[ReferenceMaterial] | None = typer.Option(
        None, "--reference-material", help="alpha-quartz or silicon (a Si wafer)"),
    columns: str | None = typer.Option(
        None, "--columns", help="ENERGY,MU | ENERGY,IF/I0 | ENERGY,ln(I0/IT): column names or "
        "1-based numbers (default: first two columns; an XDI/Athena file's mu)"),
    dataset: Path | None = typer.Option(None, "--dataset", help="dataset of the standards "
                                        "(default: the embedded one)"),
    bootstrap: int = typer.Option(100, "--bootstrap", help="bootstrap draws over site spectra"),
    constrain: bool = typer.Option(
        True, "--mean-valence-constraint/--no-mean-valence-constraint",
        help="off: free LCF fractions (same as --fractions lcf), their own mean valence "
        "reported beside the functional's"),
    fractions: str | None = typer.Option(
        None, "--fractions", help="fractions estimator: linear (default; linear functional of the "
        "spectrum, sum_n n f_n = the mean valence), lcf-constrained (LCF with that constraint) or "
        "lcf (free LCF)"),
):
    """Si0..Si4+ fractions, mean valence and mean Bader charge (with uncertainty) of a measured
    Si K-edge spectrum: linear functionals and an LCF with the per-valence DFT standards, plus
    MODEL_DIR's networks."""
    from amorphxas.measured.answer import analyse, format_text
    from amorphxas.report.measured_figures import plot_analysis

    if output is not None:
        check_output_file(output, (".json",), what="output", inputs=(spectrum, *(reference or [])))
    if figure is not None:
        check_output_file(figure, FIGURE_SUFFIXES, what="figure", inputs=(spectrum,))
    reference, reference_material = list(reference or []), list(reference_material or [])
    if len(reference) != len(reference_material):
        raise AmorphxasError(f"{len(reference)} --reference file(s) but {len(reference_material)} "
                             "--reference-material value(s); give one material per reference")
    if bootstrap < 0:
        raise AmorphxasError(f"--bootstrap {bootstrap}: must be >= 0")
    analysis = analyse(spectrum, model_dir=model_dir, columns=columns, dataset=dataset,
                       references=[(r, m.value) for r, m in zip(reference, reference_material)],
                       n_boot=bootstrap, energy_shift=energy_shift, constrain_mean_valence=constrain,
                       fractions=fractions)
    if figure is not None:
        with atomic_path(figure) as tmp:  # tmp keeps the suffix: the format is the figure's
            plot_analysis(analysis, tmp)
    if output is not None:
        write_text_atomic(output, json.dumps(analysis.result, default=float, indent=1) + "\n")
    if as_json:
        typer.echo(json.dumps(analysis.result, default=float))
        return
    console.print(format_text(analysis.result), highlight=False, soft_wrap=True)
    if output is not None:
        console.print(f"answer (JSON): {output}")
    if figure is not None:
        console.print(f"figure: {figure}")


@app.command("standards")
@one_line_errors
def standards_cmd(
    dataset: Path | None = typer.Argument(None, help="dataset (default: the embedded one)"),
    output: Path = typer.Option(..., "-o", "--output", help="directory for the CSV files"),
):
    """Per-valence Si K-edge standards (mean, std, count of the real DFT site spectra) as CSV
    readable by Athena/Larch."""
    from amorphxas.measured.standards import build_standards, export_standards

    written = export_standards(build_standards(dataset), output)
    console.print(f"{len(written)} files -> {output}")

