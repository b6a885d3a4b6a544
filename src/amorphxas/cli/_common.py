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

CONTEXT = {"help_option_names": ["-h", "--help"]}  # -h as well as --help, on every command


def _flags_shown_as_flags() -> None:
    """Rich help without a value type after a flag (``--json`` instead of ``--json <bool>``).

    typer 0.29's rich help (``rich_utils._print_options_panel``) prints ``display_type_rich`` for
    every option, flags and ``--help`` included, while its plain help (``TyperOption.get_help_record``)
    skips the type of ``is_flag``/``count`` options. This applies the plain help's rule to the rich
    help, once for every command; a typer without the method is left alone.
    """
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "amorphxas_flags", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag or self.count else shown(self, ctx)

    display_type_rich.amorphxas_flags = True
    TyperOption.display_type_rich = display_type_rich


_flags_shown_as_flags()


def _hidden_arguments_left_out_of_usage() -> None:
    """A hidden argument (the old positional output of ``dataset fork``) out of the usage line too.

    typer 0.29 leaves hidden arguments out of the argument panel but still prints them in
    ``Usage:``; this leaves them out there as well. A typer without the method is left alone.
    """
    from typer.core import TyperArgument

    pieces = getattr(TyperArgument, "get_usage_pieces", None)
    if pieces is None or getattr(pieces, "amorphxas_hidden", False):
        return

    def get_usage_pieces(self, ctx):
        return [] if getattr(self, "hidden", False) else pieces(self, ctx)

    get_usage_pieces.amorphxas_hidden = True
    TyperArgument.get_usage_pieces = get_usage_pieces


_hidden_arguments_left_out_of_usage()


app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings=CONTEXT, help="Structure <-> Si K-edge XANES of amorphous SiOx.")


def _print_version(value: bool) -> None:
    if value:
        from amorphxas import __version__

        typer.echo(f"amorphxas {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """Structure <-> Si K-edge XANES of amorphous SiOx."""


build_app = typer.Typer(no_args_is_help=True, context_settings=CONTEXT,
                        help="Build amorphous SiOx cells and crystal references.")


dataset_app = typer.Typer(no_args_is_help=True, context_settings=CONTEXT,
                          help="The dataset shipped in the package.")


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


class Schedule(str, Enum):
    """The MD schedule of ``build melt-quench`` (``--schedule``; structures.RANDOM_MELT_PRESETS)."""

    test = "test"
    study1 = "study1"
    dataset = "dataset"
    network = "network"


class DepletedSchedule(str, Enum):
    """The MD schedule of ``build depleted-supercell`` (``--schedule``; structures.DEPLETED_PRESETS)."""

    test = "test"
    study2 = "study2"
    dataset = "dataset"


Protocol = Enum("Protocol", {name.replace("-", "_"): name for name in DFT_PRESETS}, type=str)
Protocol.__doc__ = "The DFT protocol of ``compute``, ``compute-site``, ``dataset ...`` (``--protocol``)."
DFTPreset = Protocol  # the old name


def old_names(**renamed: str):
    """Accept the old, hidden spelling of renamed options (``--preset``, ``--out``).

    Each renamed option keeps its old name as a second option ``typer.Option(None, "--preset",
    hidden=True)``; ``@old_names(old_param="new_param")`` (below ``@app.command``) passes its value
    on as ``new_param`` when it is given, so scripts written for the old name behave as before.
    """

    def decorate(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in renamed.items():
                value = kwargs.pop(old, None)
                if value is not None:
                    kwargs[new] = value
            return func(*args, **kwargs)

        return wrapper

    return decorate


def output_or_positional(output: Path | None, positional: Path | None, what: str) -> Path:
    """The file a command writes: ``-o/--output``, or the old positional argument.

    Commands that took their output as a positional argument (``dataset fork SOURCE PATH``) keep
    it as a hidden, optional ``typer.Argument(None, hidden=True)`` beside ``-o/--output``; this
    returns the one given and raises a one-line error when both or neither are.
    """
    if output is not None and positional is not None and output != positional:
        raise AmorphxasError(f"two {what} paths ({positional} and -o {output}): give -o/--output only")
    chosen = output if output is not None else positional
    if chosen is None:
        raise AmorphxasError(f"no {what} path: give -o/--output PATH")
    return chosen


DESCRIPTOR_PRESET_HELP = "descriptor size: study1 | fast"


PROTOCOL_HELP = "DFT protocol (docs/spectra.md)"


class Selection(str, Enum):
    random = "random"
    stratified = "stratified"


train_app = typer.Typer(no_args_is_help=True, context_settings=CONTEXT,
                        help="Train forward (structure -> spectrum) or inverse (spectrum -> structure) "
                             "models.")


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

