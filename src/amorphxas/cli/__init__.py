"""The ``amorphxas`` command line: thin typer commands, each a call into one stage.

One module per stage's commands; importing them registers the commands on :data:`app`.
"""

from __future__ import annotations

from amorphxas.cli import build, compute, dataset, learn, measured, run  # noqa: F401  (registration)
from amorphxas.cli._common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    app()
