"""Shared parts of the command line: the typer apps, one-line errors, option types."""

from __future__ import annotations

from enum import Enum
from functools import wraps
from pathlib import Path

import typer
from rich.console import Console

from amorphxas.core.errors import AmorphxasError
from amorphxas.core.files import (
    atomic_path,
)
from amorphxas.spectra.qe import PRESETS as DFT_PRESETS

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
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


STRUCTURE_SUFFIXES = (".extxyz", ".xyz")  # structures are written as extended XYZ


def _write_structure(atoms, output: Path) -> None:
    from amorphxas.structures import write_structure

    with atomic_path(output) as tmp:
        write_structure(atoms, tmp)


def _at_least(value: int | float | None, minimum: int | float, option: str) -> None:
    """One-line error unless ``value`` (if given) is a finite number >= ``minimum``."""
    import math

    if value is not None and not (math.isfinite(value) and value >= minimum):
        raise AmorphxasError(f"{option} {value}: must be at least {minimum}")


class Reference(str, Enum):
    alpha_quartz = "alpha-quartz"
    diamond_si = "diamond-si"


class Preset(str, Enum):
    test = "test"
    study1 = "study1"
    study2 = "study2"
    dataset = "dataset"
    network = "network"


DFTPreset = Enum("DFTPreset", {name.replace("-", "_"): name for name in DFT_PRESETS}, type=str)


class Selection(str, Enum):
    random = "random"
    stratified = "stratified"


train_app = typer.Typer(no_args_is_help=True, help="Train forward (structure -> spectrum) or "
                                                  "inverse (spectrum -> structure) models.")


app.add_typer(train_app, name="train")


class InverseTarget(str, Enum):
    valence = "valence"
    charge = "charge"
    rdf = "rdf"


class Split(str, Enum):
    random = "random"
    cell = "cell"


FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


class ReferenceMaterial(str, Enum):
    alpha_quartz = "alpha-quartz"
    silicon = "silicon"


class ForwardMode(str, Enum):
    direct = "direct"
    pca = "pca"
    nmf = "nmf"


class Strategy(str, Enum):
    ur = "ur"
    random = "random"
    stratified = "stratified"
    ur_stratified = "ur-stratified"

